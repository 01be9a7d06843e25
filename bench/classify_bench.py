"""Classifier quality on the site-disjoint dev set, beside two baselines, speed and load; one run.

Quality on `bench/data/dev.jsonl` (real articles labelled by hand with
`classify/anchors/GUIDE.md`, from sites that no training file uses, hard negatives on purpose;
see `bench/make_split.py`), each figure with a 95 % bootstrap interval (1,000 resamples of the
dev items, seeded):
  keywords   – term counting with a hit threshold per label, tuned on the training data
  shipped    – the model of the last release before this one (`bench.shipped`), trained and run
               by that release's own code in a temporary git worktree (`cait classify --input`)
  cait       – the model trained now on `classify/anchors/`
Cross-validated on the training set, grouped by site. Speed: distinct ~2 KB texts per second
on one core (caches cannot help), and model load time.

Run: .venv/bin/python -m bench.classify_bench [--no-shipped]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from bench.shipped import shipped_tree
from classify.examples import Example, anchor_examples, labelled_file
from classify.model import ThemeModel
from classify.train import KeywordBaseline, fit, model_predictor
from common.text import has_cjk
from common.vocabulary import THEMES

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "bench" / "data" / "dev.jsonl"
Predictions = tuple[np.ndarray, np.ndarray]  # theme matrix (n × 4), relevance vector (n)


def figures(y_t: np.ndarray, y_r: np.ndarray, p_t: np.ndarray, p_r: np.ndarray
            ) -> dict[str, float]:
    out = {t: float(f1_score(y_t[:, i], p_t[:, i], zero_division=0))
           for i, t in enumerate(THEMES)}
    out["themes macro-F1"] = float(np.mean([out[t] for t in THEMES]))
    out["China-AI macro-F1"] = float(f1_score(y_r, p_r, average="macro", zero_division=0))
    return out


def bootstrap(y_t: np.ndarray, y_r: np.ndarray, p_t: np.ndarray, p_r: np.ndarray,
              rounds: int = 1000) -> dict[str, tuple[float, float, float]]:
    """Each figure and its 95 % percentile interval over resamples of the dev items."""
    point = figures(y_t, y_r, p_t, p_r)
    rng = np.random.default_rng(0)
    samples: dict[str, list[float]] = {k: [] for k in point}
    for _ in range(rounds):
        pick = rng.integers(0, len(y_r), len(y_r))
        for key, value in figures(y_t[pick], y_r[pick], p_t[pick], p_r[pick]).items():
            samples[key].append(value)
    return {k: (point[k], float(np.percentile(samples[k], 2.5)),
                float(np.percentile(samples[k], 97.5))) for k in point}


def shipped_predictions(dev: list[Example]) -> Predictions | None:
    """Train and run the previous release's model with its own code (a detached worktree)."""
    with shipped_tree() as tree, tempfile.TemporaryDirectory() as tmp:
        if tree is None:
            return None
        items, out = Path(tmp) / "items.jsonl", Path(tmp) / "out.jsonl"
        items.write_text("".join(json.dumps({"id": e.id, "title": e.title, "text": e.text},
                                            ensure_ascii=False) + "\n" for e in dev),
                         encoding="utf-8")
        env = {**os.environ, "CAIT_DATA_DIR": str(Path(tmp) / "data"), "PYTHONPATH": str(tree)}
        subprocess.run([sys.executable, "-c", "from cli import app; app()", "classify",
                        "--input", str(items), "--output", str(out)],
                       cwd=tree, env=env, check=True, capture_output=True)
        rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    return (np.array([[t in r["themes"] for t in THEMES] for r in rows], dtype=int),
            np.array([r["china_ai"] for r in rows], dtype=int))


def table(results: dict[str, dict[str, tuple[float, float, float]]]) -> str:
    keys = [*THEMES, "themes macro-F1", "China-AI macro-F1"]
    lines = [f"{'':10}" + "".join(f"{k:>22}" for k in keys)]
    for name, scores in results.items():
        lines.append(f"{name:10}" + "".join(
            f"{scores[k][0]:>8.3f} [{scores[k][1]:.2f}-{scores[k][2]:.2f}]" for k in keys))
    return "\n".join(lines)


def speed(model: ThemeModel, dev: list[Example]) -> tuple[float, float, float]:
    # Distinct texts: the model remembers recent documents, and repeats would measure that.
    texts = [f"{i}\n" + (dev[i % len(dev)].document * 4)[:2000] for i in range(5000)]
    started = time.perf_counter()
    for start in range(0, len(texts), 500):
        model.predict(texts[start:start + 500])
    rate = len(texts) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp))
        started = time.perf_counter()
        ThemeModel.load(path)
        load_s = time.perf_counter() - started
        size_kb = path.stat().st_size / 1024
    return rate, load_s, size_kb


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-shipped", action="store_true",
                        help="Skip the previous release's model (it needs the git history).")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    train, dev = anchor_examples(), labelled_file(DEV)
    y_t = np.array([[t in e.themes for t in THEMES] for e in dev], dtype=int)
    y_r = np.array([e.china_ai for e in dev], dtype=int)
    chinese = sum(1 for e in dev if has_cjk(e.text[:300]))
    print(f"dev: {len(dev)} articles from {len({e.group for e in dev})} sites "
          f"({int(y_r.sum())} about China's AI, {chinese} in Chinese); "
          f"training: {len(train)} examples from {len({e.group for e in train})} sites")
    model = fit(train)
    predictions: dict[str, Predictions | None] = {
        "keywords": KeywordBaseline.tune(train).predict(dev),
        "shipped": None if args.no_shipped else shipped_predictions(dev),
        "cait": model_predictor(model)(dev),
    }
    results = {name: bootstrap(y_t, y_r, *found)
               for name, found in predictions.items() if found is not None}
    print("F1 per theme, macro-F1 over themes, China-AI macro-F1 over both classes; "
          "[95 % bootstrap interval]")
    print(table(results))
    cv = model.metrics["cross_validated"]
    print("cait cross-validated on its training data, grouped by site: "
          + " ".join(f"{t} {cv['themes'][t]['f1']:.3f}" for t in THEMES)
          + f"; macro-F1 {cv['macro_f1']:.3f}; China-AI {cv['china_ai']['macro_f1']:.3f}")
    rate, load_s, size_kb = speed(model, dev)
    print(f"speed: {rate:,.0f} articles/s (distinct 2 KB texts, batches of 500, one process) "
          f"— target >= 2,000")
    print(f"model load: {load_s:.2f} s for a {size_kb:,.0f} KB file — target <= 1 s")


if __name__ == "__main__":
    main()
