"""Source records: validation, and import/export as TOML or OPML. Files only, no network.

A `SourceSpec` is what a user says about a source (name, URL, kind, tags, full text); the
database row adds the fetch state. TOML is cait's own format (`default_sources.toml`); OPML
is what other feed readers export and import.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, unquote, urlsplit
from xml.etree import ElementTree

from common.errors import UserError
from db.models import SOURCE_KINDS

DEFAULT_SOURCES = Path(__file__).resolve().parent / "default_sources.toml"
MAX_TAGS = 8  # folder levels kept as tags of an OPML outline
GOOGLE_NEWS_SEARCH = "https://news.google.com/rss/search?q={query}&hl=en-US&gl=US&ceid=US:en"


@dataclass(frozen=True)
class SourceSpec:
    name: str
    url: str
    kind: str = "feed"
    tags: list[str] = field(default_factory=list)
    full_text: bool = False
    note: str | None = None

    def validated(self) -> SourceSpec:
        if not self.name.strip():
            raise UserError("a source needs a name")
        if any(unicodedata.category(ch) == "Cc" for ch in self.name):
            # OPML (XML 1.0) cannot carry them, and a name is shown in terminals: refused at
            # add time rather than lost on export → import (issue 13)
            raise UserError(f"source name {self.name!r} contains control characters")
        if self.kind not in SOURCE_KINDS:
            raise UserError(f"source {self.name!r}: kind must be one of {', '.join(SOURCE_KINDS)}")
        parts = urlsplit(self.url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise UserError(f"source {self.name!r}: {self.url!r} is not an http(s) URL")
        return self


def name_from_url(url: str) -> str:
    """A readable default name: host plus the path's last words."""
    parts = urlsplit(url)
    host = (parts.hostname or "source").removeprefix("www.")
    path = re.sub(r"[^A-Za-z0-9]+", "-", parts.path).strip("-")
    return f"{host}/{path}"[:120] if path else host


def search_feed_url(query: str) -> str:
    """A news-search feed (Google News RSS) for a keyword query."""
    return GOOGLE_NEWS_SEARCH.format(query=quote_plus(query))


def _spec_from_mapping(item: dict[str, Any], where: str) -> SourceSpec:
    if "query" in item and "url" not in item:
        item = {**item, "url": search_feed_url(str(item["query"])), "kind": "search"}
    missing = {"name", "url"} - set(item)
    if missing:
        raise UserError(f"{where}: source entry lacks {', '.join(sorted(missing))}")
    tags = item.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise UserError(f"{where}: tags of {item['name']!r} must be a list of strings")
    return SourceSpec(name=str(item["name"]), url=str(item["url"]),
                      kind=str(item.get("kind", "feed")), tags=tags,
                      full_text=bool(item.get("full_text", False)),
                      note=item.get("note")).validated()


def load_toml(path: Path) -> list[SourceSpec]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    items = data.get("source", [])
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise UserError(f"{path}: expected [[source]] tables")
    return [_spec_from_mapping(dict(item), str(path)) for item in items]


def load_opml(path: Path) -> list[SourceSpec]:
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        raise UserError(f"cannot read {path}: {error}") from None
    specs: list[SourceSpec] = []
    body = root.find("body")
    if body is None:
        raise UserError(f"{path}: not an OPML file (no <body>)")
    # Depth-first in document order with an explicit stack: 5,000 nested folders exceeded
    # Python's recursion limit (issue 13). Folder tags keep only the nearest few levels.
    stack: list[tuple[ElementTree.Element, list[str]]] = [
        (outline, []) for outline in reversed(body.findall("outline"))]
    while stack:
        outline, folder = stack.pop()
        url = outline.get("xmlUrl")
        title = outline.get("title") or outline.get("text") or ""
        if url:
            tags = [*folder, *(c for c in _categories(outline.get("category"))
                               if c not in folder)]
            specs.append(SourceSpec(name=title.strip() or name_from_url(url), url=url,
                                    kind=outline.get("caitKind", "feed"), tags=tags,
                                    full_text=outline.get("caitFullText") == "true"
                                    ).validated())
        else:
            inner = ([*folder, title] if title else folder)[-MAX_TAGS:]
            stack.extend((child, inner) for child in reversed(outline.findall("outline")))
    return specs


def _categories(value: str | None) -> list[str]:
    """Tags from an OPML `category` attribute: comma-separated, slash-delimited (OPML 2.0).

    A path such as `/China/chips` gives its last part; cait writes one `/tag` per tag with
    `,`, `/` and `%` percent-escaped, so any tag reads back as it was."""
    tags = []
    for item in (value or "").split(","):
        last = item.strip().rstrip("/").rpartition("/")[2].strip()
        if last:
            tags.append(unquote(last))
    return tags


def _category(tags: list[str]) -> str:
    return ",".join("/" + quote(tag, safe=" ") for tag in tags)


def load_file(path: Path) -> list[SourceSpec]:
    """Sources from a TOML or OPML file (by extension, else by content)."""
    if path.suffix.lower() == ".toml":
        return load_toml(path)
    if path.suffix.lower() in (".opml", ".xml"):
        return load_opml(path)
    head = path.read_bytes()[:200].lstrip()
    return load_opml(path) if head.startswith(b"<") else load_toml(path)


def _toml_string(value: str) -> str:
    """A TOML basic string; every control character escaped (TOML refuses them raw)."""
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    escaped = "".join(f"\\u{ord(ch):04x}" if unicodedata.category(ch) == "Cc" else ch
                      for ch in escaped)
    return f'"{escaped}"'


def to_toml(specs: list[SourceSpec]) -> str:
    lines = ["# cait sources: `cait sources import FILE` reads this back", ""]
    for spec in specs:
        if spec.note:
            lines.append(f"# {spec.note}")
        lines += ["[[source]]", f"name = {_toml_string(spec.name)}",
                  f"url = {_toml_string(spec.url)}", f"kind = {_toml_string(spec.kind)}"]
        if spec.tags:
            lines.append("tags = [" + ", ".join(_toml_string(t) for t in spec.tags) + "]")
        if spec.full_text:
            lines.append("full_text = true")
        lines.append("")
    return "\n".join(lines)


def to_opml(specs: list[SourceSpec]) -> str:
    root = ElementTree.Element("opml", version="2.0")
    head = ElementTree.SubElement(root, "head")
    ElementTree.SubElement(head, "title").text = "cait sources"
    body = ElementTree.SubElement(root, "body")
    for spec in specs:
        # tags as OPML 2.0 categories (readers show them), full text as cait's own attribute
        outline = ElementTree.SubElement(body, "outline", type="rss", text=spec.name,
                                         title=spec.name, xmlUrl=spec.url, caitKind=spec.kind)
        if spec.tags:
            outline.set("category", _category(spec.tags))
        if spec.full_text:
            outline.set("caitFullText", "true")
    ElementTree.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(
        root, encoding="unicode") + "\n"
