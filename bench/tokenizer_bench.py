"""Chinese word segmentation: jieba, rjieba (what cait uses) and jieba_fast_dat, in one run.

Prints each one's load time (a fresh process, best of three; jieba keeps a cache file of its
dictionary after the first run, as in production), its speed on the Chinese articles of the
labelled data, and how many articles it segments into the same Chinese words as jieba (the
reference; Latin and number tokens are left out of the comparison, because cait re-splits
them by its own rule).

Run: .venv/bin/python -m bench.tokenizer_bench
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = [ROOT / "classify" / "anchors" / "articles.jsonl", ROOT / "bench" / "data" / "dev.jsonl"]
SEGMENTERS = {  # name → (code that loads it, code that segments `text` with it)
    "jieba": ("import jieba as j; j.setLogLevel(60); j.initialize()", "j.lcut(text, HMM=True)"),
    "rjieba": ("import rjieba; j = rjieba.Jieba(); j.cut('中国', True)", "j.cut(text, True)"),
    "jieba_fast_dat": ("import jieba_fast_dat as j; j.setLogLevel(60); j.initialize()",
                       "j.lcut(text, HMM=True)"),
}


def chinese_texts() -> list[str]:
    rows = [json.loads(line) for path in FILES for line in path.read_text("utf-8").splitlines()]
    return [row["title"] + "\n" + row["text"] for row in rows if row.get("lang") == "zh"]


def _chinese_words(tokens: list[str]) -> list[str]:
    return [t for t in tokens if t and "\u3400" <= t[0] <= "\u9fff"]


def main() -> None:
    texts = chinese_texts()
    chars = sum(len(t) for t in texts)
    print(f"{len(texts)} Chinese articles, {chars:,} characters")
    outputs: dict[str, list[list[str]]] = {}
    for name, (load, cut) in SEGMENTERS.items():
        scope: dict[str, object] = {}
        try:
            exec(load, scope)  # the fixed code strings above, never input
        except ImportError:
            print(f"{name:15} not installed (pip install {name})")
            continue
        segment: Callable[[str], list[str]] = eval(f"lambda text: {cut}", scope)
        timer = f"import time; t = time.perf_counter(); {load}; print(time.perf_counter() - t)"
        loads = [float(subprocess.run([sys.executable, "-c", timer], capture_output=True,
                                      text=True, check=True).stdout) for _ in range(3)]
        started = time.perf_counter()
        for _ in range(3):
            outputs[name] = [_chinese_words(segment(text)) for text in texts]
        seconds = (time.perf_counter() - started) / 3
        same = (sum(a == b for a, b in zip(outputs[name], outputs["jieba"], strict=True))
                if "jieba" in outputs else None)
        print(f"{name:15} load {min(loads):.2f} s   {chars / seconds / 1e6:5.2f} M chars/s   "
              f"{len(texts) / seconds:7,.0f} articles/s   same Chinese words as jieba: "
              f"{'-' if same is None else f'{same} of {len(texts)}'}")


if __name__ == "__main__":
    main()
