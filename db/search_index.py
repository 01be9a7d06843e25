"""The SQLite search index's catch-up: articles queued at insert are indexed in one statement.

Storing an article only queues its id in `articles_fts_pending` (migration 0010: FTS5 work
inside every insert was a tenth of a collection pass's writing process, issue 18). A pass
indexes the queue at its end and search does before it queries, so a search never misses a
stored article, also after a pass that was killed. PostgreSQL needs none of this: its
`search_vector` is a generated column, filled by the insert itself (migration 0006).
"""

from __future__ import annotations

from sqlalchemy import exc, text
from sqlalchemy.engine import Connection

SQLITE_READONLY = 8  # the primary result code, in the low byte of the extended ones

# What articles_fts holds of each article (migration 0006's columns)
_INDEX = text(
    "INSERT INTO articles_fts(rowid, title, body, words) "
    "SELECT a.id, coalesce(a.title, ''), coalesce(a.text, coalesce(a.summary, '')), "
    "coalesce(a.search_words, '') "
    "FROM articles AS a JOIN articles_fts_pending AS p ON p.id = a.id")
_ANY_PENDING = text("SELECT EXISTS (SELECT 1 FROM articles_fts_pending)")
_CLEAR = text("DELETE FROM articles_fts_pending")


def index_pending(connection: Connection) -> bool:
    """Index the queued articles in the connection's transaction; True when it did.

    The caller commits. An empty queue is seen by a read, so a search takes no write lock
    unless there is something to index. Indexing and clearing the queue happen in one
    transaction, which SQLite gives one writer at a time: a row queued by another writer
    is either in this batch or left for the next. The queue of a deleted article is
    dropped here too (the join finds no row to index). A database opened read-only cannot
    be indexed: its queue is left for the next writer (False), and a search there does
    not see the queued articles until then.
    """
    if connection.dialect.name != "sqlite" or not connection.execute(_ANY_PENDING).scalar():
        return False
    try:
        connection.execute(_INDEX)
    except exc.OperationalError as error:
        if getattr(error.orig, "sqlite_errorcode", 0) & 0xFF != SQLITE_READONLY:
            raise
        return False
    connection.execute(_CLEAR)
    return True
