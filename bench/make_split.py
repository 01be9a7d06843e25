"""Build the training and dev sets from the labelled batches, split by site.

Input: `classify/anchors/labelled/batch-*.jsonl` (real articles labelled by hand with the
guide, `classify/anchors/GUIDE.md`, each with its address and a one-line rationale) and the
older hand-labelled files. A site (registrable domain) goes wholly to one side: its SHA-1
decides, so the split is the same on every machine and no site is in both. The dev set takes
no site that any training file (seeds, articles, negatives) uses.

The dev set was drawn once, from the first six batches (`DEV_BATCHES`), and is frozen: later
batches go to training only, and their items from a dev site are left out.

Output: `classify/anchors/articles.jsonl` (training) and `bench/data/dev.jsonl` (dev).
Run once when batches are added: `python bench/make_split.py`.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from collectors.urls import site_of  # noqa: E402 - after the path is set

ANCHORS = ROOT / "classify" / "anchors"
BATCHES = sorted((ANCHORS / "labelled").glob("batch-*.jsonl"))
DEV_BATCHES = {f"batch-{letter}.jsonl" for letter in "abcdef"}
EARLIER = [ANCHORS / "labelled" / "earlier-train.jsonl", ANCHORS / "labelled" / "earlier-dev.jsonl"]
DEV_SHARE = 38  # percent of sites
FIELDS = ("id", "url", "site", "lang", "title", "text", "labels", "china_ai", "rationale")
# Where two labellers labelled the same address differently, the reviewed verdict.
REVIEWED = {
    "https://www.thedailystar.net/tech-startup/news/meta-invests-148-bln-scale-ai-hires-its-28-"
    "year-old-ceo-3917781": None,  # keep the first (data + talent: Scale AI is a data company)
}


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def _dev_site(site: str) -> bool:
    return int(hashlib.sha1(site.encode("utf-8")).hexdigest(), 16) % 100 < DEV_SHARE


def main() -> None:
    seen: set[str] = set()
    new: list[dict[str, Any]] = []
    later: list[dict[str, Any]] = []
    for path in BATCHES:
        for row in _rows(path):
            if row["url"] in seen:
                continue  # the same address labelled twice: the first labeller's verdict stays
            seen.add(row["url"])
            row["site"] = site_of(row["url"]) or row["site"]
            (new if path.name in DEV_BATCHES else later).append(row)
    earlier = [row for path in EARLIER for row in _rows(path)]
    for row in earlier:
        row.setdefault("site", site_of(row["url"]))
    fixed_train_sites = {row["site"] for row in earlier} | {
        site_of(row.get("url", "")) for name in ("seeds.jsonl", "negatives.jsonl")
        for row in _rows(ANCHORS / name) if row.get("url")}
    train = list(earlier)
    dev = []
    for row in new:
        if _dev_site(row["site"]) and row["site"] not in fixed_train_sites:
            dev.append(row)
        else:
            train.append(row)
    dev_sites = {row["site"] for row in dev}
    dropped = [row for row in later if row["site"] in dev_sites]
    train += [row for row in later if row["site"] not in dev_sites]
    for name, rows, prefix in (("articles.jsonl", train, "train"), ("dev.jsonl", dev, "dev")):
        out = ANCHORS / name if prefix == "train" else ROOT / "bench" / "data" / name
        with out.open("w", encoding="utf-8") as handle:
            for number, row in enumerate(rows, 1):
                row = {**row, "id": f"{prefix}-{number:04d}"}
                handle.write(json.dumps({k: row.get(k) for k in FIELDS if k in row},
                                        ensure_ascii=False) + "\n")
    train_sites = {row["site"] for row in train}
    print(f"train: {len(train)} items from {len(train_sites)} sites; "
          f"dev: {len(dev)} items from {len(dev_sites)} sites; shared sites: "
          f"{len(dev_sites & train_sites)}; left out (later batches, dev sites): {len(dropped)}")


if __name__ == "__main__":
    main()
