"""Labelled pages → the block detector's training rows (`collectors/anchors/blocks.jsonl`).

Reads the label rows of `bench/data/blocks/labels*.jsonl` (written with `bench/blocks_tool.py`),
finds each page's candidate blocks with today's candidate code, and gives each candidate the
kind of the labelled block it matches (same XPath, else the most overlapping link set with a
Jaccard index of at least 0.6 and at most a fifth of links of its own, so a wrapper around a
block is not that block); the rest are `other`. Run after labelling:
`.venv/bin/python -m bench.blocks_data`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from bench.blocks_tool import load_tree
from collectors.block_features import described
from collectors.block_model import DATA
from collectors.blocks import Candidate

LABEL_FILES = sorted((Path(__file__).resolve().parent / "data" / "blocks").glob("labels*.jsonl"))
MIN_OVERLAP = 0.6
MAX_EXTRA = 0.2


def label_rows() -> list[dict[str, Any]]:
    """Every labelled page once (the last row for a page wins)."""
    rows: dict[str, dict[str, Any]] = {}
    for path in LABEL_FILES:
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                row = json.loads(line)
                rows[row["page"]] = row
    return [rows[page] for page in sorted(rows)]


def kind_of(candidate: Candidate, blocks: list[dict[str, Any]]) -> str:
    """The kind of the labelled block this candidate is, else `other`."""
    urls = {url for url, _ in candidate.links}
    best, best_overlap = "other", 0.0
    for block in blocks:
        if block["path"] == candidate.path:
            return str(block["kind"])
    for block in blocks:
        labelled = set(block["links"])
        # A wrapper that holds a labelled block and more (the body, a column) is not that
        # block: its own links may add at most a fifth to the block's.
        if len(urls - labelled) > MAX_EXTRA * len(urls):
            continue
        overlap = len(urls & labelled) / max(1, len(urls | labelled))
        if overlap >= MIN_OVERLAP and overlap > best_overlap:
            best, best_overlap = str(block["kind"]), overlap
    return best


def page_candidates(row: dict[str, Any]) -> list[tuple[Candidate, dict[str, float], str]]:
    tree = load_tree(row["page"])
    return [(c, f, kind_of(c, row["blocks"])) for c, f in described(tree, row["url"])]


def main() -> None:
    kinds: Counter[str] = Counter()
    out: list[str] = []
    rows = label_rows()
    for row in rows:
        for candidate, feats, kind in page_candidates(row):
            kinds[kind] += 1
            out.append(json.dumps({"page": row["page"], "site": row["site"],
                                   "index": candidate.index, "kind": kind, "features": feats},
                                  ensure_ascii=False, sort_keys=True))
    DATA.parent.mkdir(parents=True, exist_ok=True)
    DATA.write_text("\n".join(out) + "\n", encoding="utf-8")
    print(f"{len(rows)} pages from {len({r['site'] for r in rows})} sites: {sum(kinds.values())} "
          f"candidates ({', '.join(f'{k} {n}' for k, n in kinds.most_common())}) → {DATA}")


if __name__ == "__main__":
    main()
