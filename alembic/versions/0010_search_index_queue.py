"""The SQLite search index off the insert path: new articles are queued, indexed in batches.

The FTS5 insert trigger of 0006 indexed every article inside the statement that stored it,
and FTS5 writes its pending terms to disk at each statement's end: a small index segment
per source written, merged again and again, about a tenth of a collection pass's writing
process (issue 18). The insert trigger now only queues the article's id in
`articles_fts_pending`, in the same transaction as the row, so a kill never leaves a stored
article unknown to the index; `db.search_index.index_pending` indexes the queue in one
statement (a pass does so at its end, search before it queries), as lemon24/reader keeps
its search index out of `update_feeds` (`update_search`). A queue rather than a watermark
on the highest indexed id: SQLite may give a deleted highest id to the next row, and a
watermark would never index that row. The delete and update triggers stay: a queued row
is not in the index yet, and is indexed with what it holds when its turn comes.

PostgreSQL is unchanged: its `search_vector` is a stored generated column (0006).

Revision ID: 0010
Revises: 0009
"""
from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# the columns of articles_fts and what each reads (0006), as written in this revision
NAMES = "title, body, words"
VALUES = ("coalesce({p}title, ''), coalesce({p}text, coalesce({p}summary, '')), "
          "coalesce({p}search_words, '')")


def upgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute("CREATE TABLE articles_fts_pending (id INTEGER PRIMARY KEY)")
    op.execute("DROP TRIGGER articles_fts_insert")
    # OR IGNORE: a deleted article's id, given again to a new row before the queue was
    # indexed, is queued once
    op.execute("""CREATE TRIGGER articles_fts_queue AFTER INSERT ON articles BEGIN
        INSERT OR IGNORE INTO articles_fts_pending(id) VALUES (new.id);
    END""")


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    op.execute(f"INSERT INTO articles_fts(rowid, {NAMES}) SELECT a.id, {VALUES.format(p='a.')} "
               f"FROM articles AS a JOIN articles_fts_pending AS p ON p.id = a.id")
    op.execute("DROP TRIGGER articles_fts_queue")
    op.execute("DROP TABLE articles_fts_pending")
    op.execute(f"""CREATE TRIGGER articles_fts_insert AFTER INSERT ON articles BEGIN
        INSERT INTO articles_fts(rowid, {NAMES}) VALUES (new.id, {VALUES.format(p='new.')});
    END""")
