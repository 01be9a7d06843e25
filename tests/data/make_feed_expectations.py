"""Regenerate feeds_expected.json: for each corpus feed, its distinct entry links.

Computed independently of cait's code path: feedparser on the raw bytes for XML feeds,
the json module for JSON Feeds (which feedparser does not read). A feed for which neither
finds any link is expected to be recorded as an error.
Run: .venv/bin/python tests/data/make_feed_expectations.py
"""

import json
import warnings
from pathlib import Path
from urllib.parse import urljoin

import feedparser

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "feeds"
OUT = Path(__file__).resolve().parent / "feeds_expected.json"
BASE = "https://feed.example/feed.xml"  # tests serve and parse each feed as if from here
# Where feedparser itself is wrong, the expectation is set by hand with the reason.
CORRECTIONS = {
    "Ranchero-Software-NetNewsWire__OneFootTsunami.atom": (
        25, "feedparser takes the feed's own wp-atom.php link for 3 entries without an "
            "alternate link; their http guids are distinct articles"),
    "Ranchero-Software-NetNewsWire__pappacoda.atom": (
        3, "feedparser gives one entry the tag: id as its link; the entry has a real "
           "enclosure-style link to a PDF"),
}


def json_links(raw: bytes) -> list[str] | None:
    try:
        data = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if isinstance(data.get("rss"), dict):
        items = data["rss"].get("channel", {}).get("item", [])
        return [i.get("link") or i.get("guid") for i in items if isinstance(i, dict)]
    return [i.get("url") or i.get("external_url") or i.get("id")
            for i in data.get("items", []) if isinstance(i, dict)]


def main() -> None:
    warnings.simplefilter("ignore")
    expected = {}
    for path in sorted(CORPUS.iterdir()):
        raw = path.read_bytes()
        if raw.lstrip()[:1] in (b"{", b"["):
            links = json_links(raw) or []
        else:
            parsed = feedparser.parse(raw)
            links = [e.get("link") or (e.get("id") if str(e.get("id", "")).startswith("http")
                                       else None) for e in parsed.entries]
        resolved = {urljoin(BASE, str(link)) for link in links if link}
        distinct = sorted(u for u in resolved if u.startswith("http"))
        expected[path.name] = {"links": len(distinct)} if distinct else {"error": True}
        if path.name in CORRECTIONS:
            count, why = CORRECTIONS[path.name]
            expected[path.name] = {"links": count, "corrected": why}
    OUT.write_text(json.dumps(expected, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
