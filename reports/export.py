"""Exports: the stored articles with their tags, scores, evidence and source, for pandas, R
and spreadsheets (`cait export articles`).

Rows are read in batches of `BATCH` articles by id (keyset pages, each with its tags in one
more query) and written as they come, so a million articles never sit in memory. Three
formats, one record shape:

- JSON lines: one nested object per article (`themes` → theme → score, assigned, evidence);
- CSV: one row per article, each theme as columns `chips`, `chips_score`, `chips_evidence`;
  UTF-8 **with a byte-order mark**, because Excel reads a CSV without one in the local
  ANSI code page and turns Chinese into mojibake, while pandas, readr and data.table skip
  the mark. Text cells that a spreadsheet would run as a formula get a leading `'`
  (OWASP's rule, `reports.escape.csv_text`);
- Parquet: the CSV's columns, typed (timestamps in UTC, evidence as lists), through pyarrow
  (the optional `[parquet]` extra).

Times are UTC, ISO 8601. Article text is only exported with `with_text`.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import and_, exists, select
from sqlalchemy.orm import Session, aliased

from common.errors import UserError
from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, Source
from db.queries import dated_between
from reports.escape import csv_text

FORMATS = ("csv", "jsonl", "parquet")
BATCH = 500
PARQUET_EXTRA = "pip install 'china-ai-tracker[parquet]'"
TAGS = (*THEMES, RELEVANCE)


@dataclass(frozen=True)
class ExportFilter:
    since: datetime | None = None
    until: datetime | None = None
    themes: tuple[str, ...] = ()        # tagged with any of them; empty: no theme filter
    china_ai_only: bool = True          # as the timelines count; False: every article
    with_text: bool = False


def _stamp(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def records(session: Session, chosen: ExportFilter) -> Iterator[dict[str, Any]]:
    """One nested record per article, oldest id first, read `BATCH` articles at a time."""
    stmt = (select(Article, Source.name, Source.url).outerjoin(Source,
                                                               Source.id == Article.source_id)
            .order_by(Article.id).limit(BATCH))
    if chosen.since is not None or chosen.until is not None:
        stmt = stmt.where(dated_between(chosen.since, chosen.until))
    if chosen.themes:
        tagged = aliased(ArticleTheme)
        stmt = stmt.where(exists().where(and_(tagged.article_id == Article.id,
                                              tagged.theme.in_(chosen.themes),
                                              tagged.assigned)))
    if chosen.china_ai_only:
        relevance = aliased(ArticleTheme)
        stmt = stmt.where(exists().where(and_(relevance.article_id == Article.id,
                                              relevance.theme == RELEVANCE,
                                              relevance.assigned)))
    last = 0
    while True:
        page = session.execute(stmt.where(Article.id > last)).all()
        if not page:
            return
        ids = [article.id for article, _, _ in page]
        tags: dict[int, dict[str, ArticleTheme]] = {i: {} for i in ids}
        for row in session.scalars(select(ArticleTheme).where(
                ArticleTheme.article_id.in_(ids), ArticleTheme.theme.in_(TAGS))):
            tags[row.article_id][row.theme] = row
        for article, source, source_url in page:
            yield _record(article, source, source_url, tags[article.id], chosen.with_text)
        last = ids[-1]


def _record(article: Article, source: str | None, source_url: str | None,
            tags: dict[str, ArticleTheme], with_text: bool) -> dict[str, Any]:
    relevance = tags.get(RELEVANCE)
    versions = {t.model_version for t in tags.values()}
    record: dict[str, Any] = {
        "id": article.id, "title": article.title, "url": article.canonical_url,
        "source": source, "source_url": source_url,
        "date": _stamp(article.published_at or article.first_seen_at),
        "published_at": _stamp(article.published_at),
        "first_seen_at": _stamp(article.first_seen_at),
        "language": article.language, "author": article.author,
        "discovered_via": article.discovered_via, "duplicate_of": article.duplicate_of,
        "china_ai": relevance.assigned if relevance else None,
        "china_ai_score": round(relevance.score, 4) if relevance else None,
        "china_ai_evidence": list(relevance.evidence or []) if relevance else [],
        "model_version": versions.pop() if len(versions) == 1 else None,
        "themes": {theme: {"assigned": tags[theme].assigned,
                           "score": round(tags[theme].score, 4),
                           "evidence": list(tags[theme].evidence or [])}
                   for theme in THEMES if theme in tags},
    }
    if with_text:
        record["summary"] = article.summary
        record["text"] = article.text
    return record


def columns(with_text: bool) -> list[str]:
    """The flat columns of CSV and Parquet, in order."""
    names = ["id", "title", "url", "source", "source_url", "date", "published_at",
             "first_seen_at", "language", "author", "discovered_via", "duplicate_of",
             "china_ai", "china_ai_score", "china_ai_evidence", "model_version"]
    for theme in THEMES:
        names += [theme, f"{theme}_score", f"{theme}_evidence"]
    return names + (["summary", "text"] if with_text else [])


def flat(record: dict[str, Any]) -> dict[str, Any]:
    """A nested record as one flat row: a theme's tag, score and evidence in three columns."""
    row = {k: v for k, v in record.items() if k != "themes"}
    for theme in THEMES:
        tag = record["themes"].get(theme)
        row[theme] = tag["assigned"] if tag else None
        row[f"{theme}_score"] = tag["score"] if tag else None
        row[f"{theme}_evidence"] = tag["evidence"] if tag else []
    return row


# Columns of text from the articles and their sources: what the formula rule guards.
_TEXT = {"title", "url", "source", "source_url", "author", "language", "summary", "text",
         "china_ai_evidence", *(f"{t}_evidence" for t in THEMES)}
EVIDENCE_SEPARATOR = " | "


def write_text(format: str, rows: Iterator[dict[str, Any]], out: IO[str],
               with_text: bool) -> int:
    """CSV or JSON lines to a text stream opened for UTF-8 (with `newline=""` for CSV)."""
    return write_csv(rows, out, with_text) if format == "csv" else write_jsonl(rows, out)


def write_csv(rows: Iterator[dict[str, Any]], out: IO[str], with_text: bool) -> int:
    """CSV as described above, byte-order mark first; returns the number of articles."""
    names = columns(with_text)
    out.write("\ufeff")
    writer = csv.writer(out)
    writer.writerow(names)
    count = 0
    for record in rows:
        row = flat(record)
        cells = []
        for name in names:
            value = row[name]
            if isinstance(value, list):
                value = EVIDENCE_SEPARATOR.join(value)
            if value is None:
                cells.append("")
            elif name in _TEXT:
                cells.append(csv_text(str(value)))
            else:
                cells.append(value)
        writer.writerow(cells)
        count += 1
    return count


def write_jsonl(rows: Iterator[dict[str, Any]], out: IO[str]) -> int:
    count = 0
    for record in rows:
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
        count += 1
    return count


def pyarrow_modules() -> tuple[Any, Any]:
    """pyarrow and pyarrow.parquet, or one line naming the extra that installs them."""
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise UserError(f"--format parquet needs pyarrow: {PARQUET_EXTRA}") from None
    return pyarrow, pyarrow.parquet


def write_parquet(rows: Iterator[dict[str, Any]], path: str, with_text: bool,
                  row_group: int = 10_000) -> int:
    """Parquet with typed columns, one row group per `row_group` articles."""
    pa, pq = pyarrow_modules()
    stamp = pa.timestamp("us", tz="UTC")
    types: dict[str, Any] = {
        "id": pa.int64(), "duplicate_of": pa.int64(), "china_ai": pa.bool_(),
        "china_ai_score": pa.float64(), "china_ai_evidence": pa.list_(pa.string()),
        "date": stamp, "published_at": stamp, "first_seen_at": stamp}
    for theme in THEMES:
        types |= {theme: pa.bool_(), f"{theme}_score": pa.float64(),
                  f"{theme}_evidence": pa.list_(pa.string())}
    schema = pa.schema([(name, types.get(name, pa.string())) for name in columns(with_text)])
    count = 0
    with pq.ParquetWriter(path, schema) as writer:
        batch: list[dict[str, Any]] = []
        for record in rows:
            row = flat(record)
            for name in ("date", "published_at", "first_seen_at"):
                row[name] = datetime.fromisoformat(row[name]) if row[name] else None
            batch.append(row)
            if len(batch) == row_group:
                writer.write_table(pa.Table.from_pylist(batch, schema=schema))
                count += len(batch)
                batch = []
        if batch or count == 0:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            count += len(batch)
    return count
