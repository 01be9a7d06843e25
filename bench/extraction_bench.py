"""Extraction quality: word-level precision/recall/F1 of cait's article extraction on the corpus.

Ground truth: scrapinghub's article-extraction-benchmark (`ground-truth.json`, 54 pages with
the full article body) and trafilatura's evaluation snippets (`adbar-trafilatura__evaldata.json`:
text that must and must not appear, 32 pages). cait's settings are printed side by side with
trafilatura's defaults and its precision/recall presets (and newspaper4k when it is installed;
it is not a dependency). "cait, feed date known" is the path full-text feeds take: the feed
gave the date, so htmldate does not search the text for one (issue 18). Each extractor runs
once over all pages before it is timed: a first call pays one-off loading (dateparser's
locales), which `collect_bench --only full-text` shows in a real pass.

Run: .venv/bin/python -m bench.extraction_bench
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import trafilatura

from collectors.pages import extract_page
from collectors.textutil import decode_body

ARTICLES = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "articles"
WORD = re.compile(r"\w+", re.UNICODE)

Extractor = Callable[[bytes, str], str]


def cait_settings(body: bytes, url: str) -> str:
    return extract_page(body, url).text or ""


def cait_date_known(body: bytes, url: str) -> str:
    return extract_page(body, url, date_known=True).text or ""


BASELINE_FAILURES: Counter[str] = Counter()  # a baseline's pages that raised, by its error


def newspaper4k(body: bytes, url: str) -> str:
    """newspaper4k's text; empty when it raises (counted in BASELINE_FAILURES): it needs
    nltk's tokenizer data for some languages (Korean), which is fetched from the internet."""
    from newspaper import Article  # optional: not a dependency of cait

    # fetch_images: its parse would download each page's images to rank them by size
    article = Article(url or "https://example.com/", fetch_images=False)
    try:
        article.download(input_html=decode_body(body)[0])
        article.parse()
    except Exception as error:  # a baseline's failure is its score, not the bench's end
        BASELINE_FAILURES[f"newspaper4k: {type(error).__name__}"] += 1
        return ""
    return str(article.text or "")


def trafilatura_variant(**options: bool) -> Extractor:
    def run(body: bytes, url: str) -> str:
        html, _ = decode_body(body)
        return trafilatura.extract(html, url=url, **options) or ""
    return run


VARIANTS: dict[str, Extractor] = {
    "cait (no comments, no tables)": cait_settings,
    "cait, feed date known": cait_date_known,
    "trafilatura defaults": trafilatura_variant(),
    "trafilatura favor_precision": trafilatura_variant(favor_precision=True),
    "trafilatura favor_recall": trafilatura_variant(favor_recall=True),
}


def word_prf(predicted: str, truth: str) -> tuple[float, float, float]:
    p, t = Counter(WORD.findall(predicted.lower())), Counter(WORD.findall(truth.lower()))
    common = sum((p & t).values())
    precision = common / max(1, sum(p.values()))
    recall = common / max(1, sum(t.values()))
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def scrapinghub_pages() -> list[tuple[bytes, str, str]]:
    truth = json.loads((ARTICLES / "ground-truth.json").read_text())
    pages = []
    for path in sorted(ARTICLES.glob("scrapinghub-article-extraction-benchmark__*.html.gz")):
        key = path.name.split("__")[1].removesuffix(".html.gz")
        if key in truth:
            pages.append((gzip.decompress(path.read_bytes()), truth[key].get("url", ""),
                          truth[key]["articleBody"]))
    return pages


def trafilatura_cases() -> list[tuple[bytes, str, list[str], list[str]]]:
    evaldata = json.loads((ARTICLES / "adbar-trafilatura__evaldata.json").read_text())
    cases = []
    for url, case in evaldata.items():
        path = ARTICLES / f"adbar-trafilatura__{case['file']}"
        if path.exists():
            cases.append((path.read_bytes(), url, list(case.get("with", [])),
                          list(case.get("without", []))))
    return cases


def main() -> None:
    pages = scrapinghub_pages()
    cases = trafilatura_cases()
    variants = dict(VARIANTS)
    if importlib.util.find_spec("newspaper") is not None:
        variants["newspaper4k"] = newspaper4k
    else:
        print("newspaper4k: not installed, not shown")
    print(f"scrapinghub ground truth: {len(pages)} pages; "
          f"trafilatura snippets: {len(cases)} pages")
    print(f"{'settings':32} {'P':>6} {'R':>6} {'F1':>6}   {'with':>6} {'without':>8}"
          f"  {'ms/page':>8} {'pages/s':>8}")
    for name, extractor in variants.items():
        for body, url, *_ in [*pages, *cases]:  # warm: one-off loading is not per page
            extractor(body, url)
        BASELINE_FAILURES.clear()  # counted in the timed run only
        started = time.perf_counter()
        scores = [word_prf(extractor(body, url), truth) for body, url, truth in pages]
        found = kept_out = total_with = total_without = 0
        for body, url, with_, without in cases:
            text = extractor(body, url)
            found += sum(1 for snippet in with_ if snippet in text)
            kept_out += sum(1 for snippet in without if snippet not in text)
            total_with += len(with_)
            total_without += len(without)
        elapsed = (time.perf_counter() - started) * 1000 / (len(pages) + len(cases))
        p = sum(s[0] for s in scores) / len(scores)
        r = sum(s[1] for s in scores) / len(scores)
        f = sum(s[2] for s in scores) / len(scores)
        print(f"{name:32} {p:6.3f} {r:6.3f} {f:6.3f}   {found / total_with:6.3f} "
              f"{kept_out / total_without:8.3f}  {elapsed:8.1f} {1000 / elapsed:8.1f}")
    for failure, count in sorted(BASELINE_FAILURES.items()):
        print(f"{failure} on {count} pages, scored as an empty text")
    print("P/R/F1: mean per-page word overlap with scrapinghub's article bodies. "
          "with: share of must-have snippets found; without: share of boilerplate kept out. "
          "Target: cait's F1 >= 0.97.")


if __name__ == "__main__":
    main()
