"""Labelling tool for Related-News blocks: list a page's candidate blocks, write a label row.

  python -m bench.blocks_tool list PAGE [--url URL]
  python -m bench.blocks_tool label PAGE --url URL --kinds "3=related,7=popular,12=nav"
                              --rationale "…" [--out bench/data/blocks/labels.jsonl]
  python -m bench.blocks_tool relabel PAGE --kinds "18=related,22=other" --rationale "…"

PAGE is `corpus:<file>` (a page of ../shared/corpus/articles/) or a path below
bench/data/blocks/pages/. Kinds: related (a list of related stories), inline ("Read more: …"
links inside the body), popular (most-read or trending lists), nav (navigation, tags, share,
footer lists). Every candidate not named is `other`. `relabel` changes the kinds of the named
candidates in the page's existing row, wherever it is (`other` removes a block), and appends the
rationale as a review note. A label row stores each named block's
kind, heading, XPath and links, so labels survive changes to the candidate code.
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collectors.blocks import candidates  # noqa: E402 - after the path is set
from collectors.pages import parse_html  # noqa: E402
from collectors.textutil import decode_body  # noqa: E402
from collectors.urls import site_of  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "articles"
PAGES = ROOT / "bench" / "data" / "blocks" / "pages"
LABELS = ROOT / "bench" / "data" / "blocks" / "labels.jsonl"
KINDS = ("related", "inline", "popular", "nav")


def page_path(page: str) -> Path:
    return CORPUS / page.removeprefix("corpus:") if page.startswith("corpus:") else PAGES / page


def load_tree(page: str) -> Any:
    raw = page_path(page).read_bytes()
    if page.endswith(".gz"):
        raw = gzip.decompress(raw)
    return parse_html(decode_body(raw)[0])


def guess_url(tree: Any) -> str | None:
    for xpath in ("//link[@rel='canonical']/@href", "//meta[@property='og:url']/@content"):
        found = tree.xpath(xpath)
        if found and str(found[0]).startswith("http"):
            return str(found[0])
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("list", "label", "relabel"))
    parser.add_argument("page")
    parser.add_argument("--url")
    parser.add_argument("--kinds", default="")
    parser.add_argument("--rationale", default="")
    parser.add_argument("--out", type=Path, default=LABELS)
    args = parser.parse_args()
    tree = load_tree(args.page)
    url = args.url or guess_url(tree)
    if not url:
        sys.exit("no --url given and the page names no canonical URL")
    found = candidates(tree, url)
    if args.action == "list":
        print(f"{args.page}  url={url}  {len(found)} candidates")
        for c in found:
            print(f"[{c.index}] <{c.tag}> heading={c.heading[:60]!r} markers={c.markers[:70]!r} "
                  f"links={len(c.links)}")
            for link, text in c.links[:5]:
                print(f"      {text[:70]!r} -> {link[:90]}")
        return
    chosen = dict(item.split("=") for item in args.kinds.split(",") if item.strip())
    if args.action == "relabel":
        relabel(args.page, found, chosen, args.rationale)
        return
    blocks = []
    for index, kind in sorted(chosen.items(), key=lambda kv: int(kv[0])):
        if kind not in KINDS:
            sys.exit(f"kind must be one of {', '.join(KINDS)}, not {kind!r}")
        c = found[int(index)]
        blocks.append({"kind": kind, "heading": c.heading, "path": c.path,
                       "links": [link for link, _ in c.links]})
    row = {"page": args.page, "url": url, "site": site_of(url), "blocks": blocks,
           "rationale": args.rationale}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"labelled {args.page}: {len(blocks)} blocks ({', '.join(sorted(chosen.values()))})")


def relabel(page: str, found: list[Any], chosen: dict[str, str], note: str) -> None:
    """Change the kinds of some candidates in the page's existing label row, in place."""
    with (LABELS.parent / ".relabel.lock").open("w") as lock:  # several reviewers at once
        fcntl.flock(lock, fcntl.LOCK_EX)
        _relabel(page, found, chosen, note)


def _relabel(page: str, found: list[Any], chosen: dict[str, str], note: str) -> None:
    for path in sorted(LABELS.parent.glob("labels*.jsonl")):
        lines = path.read_text(encoding="utf-8").splitlines()
        for number, line in enumerate(lines):
            if not line.strip() or json.loads(line)["page"] != page:
                continue
            row = json.loads(line)
            for index, kind in chosen.items():
                if kind not in (*KINDS, "other"):
                    sys.exit(f"kind must be one of {', '.join(KINDS)} or other, not {kind!r}")
                c = found[int(index)]
                row["blocks"] = [b for b in row["blocks"] if b["path"] != c.path]
                if kind != "other":
                    row["blocks"].append({"kind": kind, "heading": c.heading, "path": c.path,
                                          "links": [link for link, _ in c.links]})
            row["rationale"] = f"{row['rationale']}; review: {note}" if note else row["rationale"]
            lines[number] = json.dumps(row, ensure_ascii=False)
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            print(f"relabelled {page} in {path.name}: {chosen}")
            return
    sys.exit(f"no label row for {page}")


if __name__ == "__main__":
    main()
