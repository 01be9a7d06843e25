"""Training and input data: the committed anchors, human labels, and JSON-lines files."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from classify import ANCHORS
from common.errors import UserError
from common.vocabulary import RELEVANCE, THEMES
from db.models import MAX_ROW_ID, Article, Label

# The body the model reads: long articles say what they are about early (title and lead), and
# every labelled text it learned from is at most this long (the labelled files hold each
# article's first 2,000-2,500 characters), so reading further only shifts the density and
# coverage features away from what it was trained on. At 2,500 the training and dev texts are
# read whole (the same model, the same dev figures), 99 % of natural 2-8 KB articles get the
# tags they get read whole, and classification is faster (`bench/classify_bench.py --caps`;
# issue 18: it was 20,000).
MAX_TEXT_CHARS = 2_500


@dataclass
class Example:
    id: str
    text: str
    themes: set[str] = field(default_factory=set)
    china_ai: bool = False
    title: str = ""
    group: str = ""  # the site it came from: cross-validation keeps a site in one fold


    @property
    def document(self) -> str:
        return document(self.title, self.text)


def document(title: str | None, text: str | None) -> str:
    """The text the model reads: the title twice (headlines carry the topic), then the body."""
    title = (title or "").strip()
    body = (text or "")[:MAX_TEXT_CHARS]
    return f"{title}\n{title}\n{body}" if title else body


def read_jsonl(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as error:
                    raise UserError(f"{path}:{number}: not valid JSON ({error.msg})") from None
                except RecursionError:
                    raise UserError(f"{path}:{number}: JSON nested too deeply") from None
                if not isinstance(row, dict):
                    raise UserError(f"{path}:{number}: expected a JSON object")
                yield number, row


def labelled_file(path: Path) -> list[Example]:
    """Examples from a JSONL file of {id, title?, text, labels: [themes], china_ai: bool}."""
    examples = []
    for number, row in read_jsonl(path):
        labels = row.get("labels", [])
        unknown = set(labels) - set(THEMES)
        if unknown:
            raise UserError(f"{path}:{number}: unknown theme(s) {sorted(unknown)}")
        if not isinstance(row.get("text"), str):
            raise UserError(f"{path}:{number}: 'text' must be a string")
        examples.append(Example(str(row.get("id", number)), row["text"], set(labels),
                                bool(row.get("china_ai", False)), str(row.get("title") or ""),
                                _group(row, path)))
    return examples


def _group(row: dict[str, Any], path: Path) -> str:
    """The item's site: its `site` field, else its URL's host, else its source file."""
    if row.get("site"):
        return str(row["site"])
    if row.get("url"):
        return urlsplit(str(row["url"])).hostname or str(row["url"])
    return str(row.get("source") or path.name)


def anchor_examples() -> list[Example]:
    """The committed training data: hand-labelled seed passages, real articles, negatives."""
    return [example for name in ("seeds.jsonl", "articles.jsonl", "negatives.jsonl")
            for example in labelled_file(ANCHORS / name)]


def label_examples(session: Session) -> list[Example]:
    """Articles with human labels; the latest label per (article, theme) wins.

    A theme never labelled for an article counts as absent only if the article has at least
    one theme label; relevance defaults to True when only themes were labelled (people
    label China-AI articles), unless a `china_ai` label says otherwise.
    """
    rows = session.execute(select(Label, Article).join(Article, Article.id == Label.article_id)
                           .order_by(Label.created_at, Label.id)).all()
    by_article: dict[int, tuple[Article, dict[str, bool]]] = {}
    for label, article in rows:
        by_article.setdefault(article.id, (article, {}))[1][label.theme] = label.value
    examples = []
    for article, verdicts in by_article.values():
        themes = {t for t, v in verdicts.items() if v and t in THEMES}
        china = verdicts.get(RELEVANCE, True)
        examples.append(Example(f"article-{article.id}", article.text or article.summary or "",
                                themes, china, article.title or "",
                                urlsplit(article.url).hostname or article.url))
    return examples


LABEL_ROW_KEYS = frozenset({"article_id", "labels", "not", "china_ai", "author", "note"})


def label_row(row: dict[str, Any], where: str) -> tuple[int, dict[str, bool]]:
    """One `cait label --import` row checked strictly: (article id, {label: verdict}).

    JSON has no place for guesses: `"china_ai": "no"` is not false, `true` is not an id.
    Anything off is refused with one line naming the row.
    """
    unknown_keys = set(row) - LABEL_ROW_KEYS
    if unknown_keys:
        raise UserError(f"{where}: unknown field(s) {', '.join(sorted(unknown_keys))}")
    target = row.get("article_id")
    if isinstance(target, bool) or not isinstance(target, int) or not (
            1 <= target <= MAX_ROW_ID):
        raise UserError(f"{where}: article_id must be a positive integer, not {target!r:.40}")
    verdicts: dict[str, bool] = {}
    for key, value in (("labels", True), ("not", False)):
        themes = row.get(key, [])
        if not isinstance(themes, list) or not all(isinstance(t, str) for t in themes):
            raise UserError(f"{where}: {key!r} must be a list of theme names")
        unknown = set(themes) - set(THEMES)
        if unknown:
            raise UserError(f"{where}: unknown theme(s) {', '.join(sorted(unknown))} "
                            f"(themes are {', '.join(THEMES)})")
        verdicts.update(dict.fromkeys(themes, value))
    if "china_ai" in row:
        if not isinstance(row["china_ai"], bool):
            raise UserError(f"{where}: china_ai must be true or false, "
                            f"not {row['china_ai']!r:.40}")
        verdicts[RELEVANCE] = row["china_ai"]
    if not verdicts:
        raise UserError(f"{where}: nothing to label (give labels, not or china_ai)")
    return target, verdicts


@dataclass(frozen=True)
class InputItem:
    id: Any
    title: str
    text: str
    error: str | None = None


def read_input(path: Path) -> Iterator[InputItem]:
    """Items of a `cait classify --input` file; a bad line yields an item with `.error`."""
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                yield InputItem(None, "", "", f"line {number}: not valid JSON ({error.msg})")
                continue
            except RecursionError:
                yield InputItem(None, "", "", f"line {number}: JSON nested too deeply")
                continue
            if not isinstance(row, dict):
                yield InputItem(None, "", "", f"line {number}: expected a JSON object")
                continue
            title, text = row.get("title") or "", row.get("text") or ""
            if not isinstance(title, str) or not isinstance(text, str):
                yield InputItem(row.get("id"), "", "", f"line {number}: title/text must be strings")
                continue
            yield InputItem(row.get("id"), title, text)
