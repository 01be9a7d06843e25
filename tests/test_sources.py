"""Source files: the curated defaults, TOML and OPML import/export."""

from __future__ import annotations

from pathlib import Path

import pytest

from collectors.sources import (
    DEFAULT_SOURCES,
    SourceSpec,
    load_file,
    load_toml,
    to_opml,
    to_toml,
)
from common.errors import UserError


def test_default_sources_are_many_valid_and_each_has_a_reason() -> None:
    specs = load_toml(DEFAULT_SOURCES)
    assert len(specs) >= 20
    assert len({s.name for s in specs}) == len(specs)
    assert {s.kind for s in specs} >= {"feed", "search"}
    lines = DEFAULT_SOURCES.read_text().splitlines()
    starts = [i for i, line in enumerate(lines) if line.strip() == "[[source]]"]
    assert len(starts) == len(specs)
    for i in starts:
        reason = lines[i - 1].strip()
        assert reason.startswith("#") and len(reason) > 20, f"entry at line {i + 1} has no reason"


@pytest.mark.parametrize("fmt", ["toml", "opml"])
def test_export_then_import_round_trips(tmp_path: Path, fmt: str) -> None:
    specs = [SourceSpec("SCMP China", "https://www.scmp.com/rss/4/feed", "feed",
                        ["outlet"], True),
             SourceSpec("search: 芯片 \"quoted\"", "https://news.google.com/rss/search?q=x&a=1",
                        "search", ["two", "tags"])]
    path = tmp_path / f"sources.{fmt}"
    path.write_text(to_toml(specs) if fmt == "toml" else to_opml(specs))
    back = load_file(path)
    assert back == specs


def test_opml_import_export_import_is_lossless(tmp_path: Path) -> None:
    """Tags (as categories and as folders), kinds and the full-text flag survive."""
    path = tmp_path / "reader.opml"
    path.write_text("""<?xml version="1.0"?><opml version="2.0"><head/><body>
      <outline text="China tech"><outline text="TechNode" type="rss" category="/chips,/a/b"
        xmlUrl="https://technode.com/feed/"/></outline>
      <outline text="odd tags" xmlUrl="https://o.example/f" caitFullText="true"
        category="/x%2Cy%2Fz%25,/ 中文 "/></body></opml>""")
    first = load_file(path)
    assert [s.tags for s in first] == [["China tech", "chips", "b"], ["x,y/z%", "中文"]]
    assert [s.full_text for s in first] == [False, True]
    again = tmp_path / "again.opml"
    again.write_text(to_opml(first))
    assert load_file(again) == first
    odd = [SourceSpec("t", "https://t.example/f", "page", ["a,b", "/c/", "%2C", "d e"], True)]
    again.write_text(to_opml(odd))
    assert load_file(again) == odd


def test_opml_folders_become_tags(tmp_path: Path) -> None:
    path = tmp_path / "reader.opml"
    path.write_text("""<?xml version="1.0"?><opml version="1.0"><head/><body>
      <outline text="China tech"><outline text="TechNode" type="rss"
        xmlUrl="https://technode.com/feed/"/></outline></body></opml>""")
    [spec] = load_file(path)
    assert spec.name == "TechNode" and spec.tags == ["China tech"]


@pytest.mark.parametrize("content", [
    "[[source]]\nname = 'x'\n",                                   # no url
    "[[source]]\nname = 'x'\nurl = 'ftp://x'\n",                  # not http
    "[[source]]\nname = 'x'\nurl = 'https://x'\nkind = 'blog'\n",  # unknown kind
    "this is = not [ toml",
])
def test_bad_source_files_give_a_clear_error(tmp_path: Path, content: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(content)
    with pytest.raises(UserError):
        load_file(path)
