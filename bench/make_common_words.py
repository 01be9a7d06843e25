"""Writes `common/common_words.txt`: the words of everyday news prose, for the digest and
narratives to leave out of "new this week" and of a period's terms.

A word is common when it occurs in at least 0.5 % of the labelled real articles
(`classify/anchors/`, ~1,200 articles in English and Chinese from ~800 sites) — "including",
"nearly", "reports", 表示 — counted with the project's one tokenizer. Domain words that every
China-AI story shares (China, AI, chips) come out common too, which is what a digest wants:
they are never news. Run after the labelled set grows:
`.venv/bin/python bench/make_common_words.py`.
"""

from __future__ import annotations

import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from classify.train import anchor_examples  # noqa: E402 - after the path is set
from common.text import COMMON_WORDS_FILE, content_words  # noqa: E402

SHARE = 0.005


def main() -> None:
    texts = [e.text for e in anchor_examples() if len(e.text) > 300]  # articles, not passages
    df: Counter[str] = Counter()
    for text in texts:
        df.update(set(content_words(text)))
    common = sorted(w for w, n in df.items() if n >= SHARE * len(texts))
    COMMON_WORDS_FILE.write_text(
        f"# words in >= {SHARE:.0%} of {len(texts)} labelled articles "
        "(bench/make_common_words.py)\n" + "\n".join(common) + "\n", encoding="utf-8")
    print(f"{len(common)} common words from {len(texts)} articles → {COMMON_WORDS_FILE}")


if __name__ == "__main__":
    main()
