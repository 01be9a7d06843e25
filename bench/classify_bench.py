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

Natural lengths (issue 18): distinct texts drawn from real articles at their natural length,
2-8 KB (the bodies of scrapinghub's extraction ground truth in shared/corpus: the labelled
files hold each article's first ~2 KB only), mean length printed, through the model's own
reading path (`examples.document`, which caps the body at `MAX_TEXT_CHARS`). Speeds are CPU
time of this process (`time.process_time`: the machine is shared, wall time moves with the
load), the wall-clock rate and the load average beside them.

`--caps 500 1000 ... 0`: dev-set quality against the cap on the body (0: no cap): the model is
trained and evaluated with every text cut at the cap, beside its natural-length speed and how
many natural-length texts get the same tags as without a cap.

Run: .venv/bin/python -m bench.classify_bench [--no-shipped] [--caps 1000 2000 2500 0]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.metrics import f1_score

from bench.shipped import shipped_tree
from classify import examples as examples_module
from classify.examples import Example, anchor_examples, document, labelled_file
from classify.model import ThemeModel
from classify.train import KeywordBaseline, fit, model_predictor
from common.text import has_cjk
from common.vocabulary import THEMES

ROOT = Path(__file__).resolve().parent.parent
DEV = ROOT / "bench" / "data" / "dev.jsonl"
GROUND_TRUTH = ROOT.parent / "shared" / "corpus" / "articles" / "ground-truth.json"
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


def speed(model: ThemeModel, dev: list[Example]) -> tuple[float, float, float, float]:
    # Distinct texts: the model remembers recent documents, and repeats would measure that.
    texts = [f"{i}\n" + (dev[i % len(dev)].document * 4)[:2000] for i in range(5000)]
    cpu, started = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), 500):
        model.predict(texts[start:start + 500])
    rate = len(texts) / (time.process_time() - cpu)
    wall_rate = len(texts) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory() as tmp:
        path = model.save(Path(tmp))
        started = time.perf_counter()
        ThemeModel.load(path)
        load_s = time.perf_counter() - started
        size_kb = path.stat().st_size / 1024
    return rate, wall_rate, load_s, size_kb


def natural_bodies(low: int = 2000, high: int = 8000) -> list[str]:
    """Real article bodies of 2-8 KB (characters), in file order."""
    truth = json.loads(GROUND_TRUTH.read_text(encoding="utf-8"))
    return [row["articleBody"] for row in truth.values()
            if low <= len(row["articleBody"]) <= high]


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def natural_speed(model: ThemeModel, bodies: list[str], cap: int | None = None,
                  count: int = 5000) -> tuple[float, float, float]:
    """(docs/s of CPU time, docs/s wall, mean body length) over distinct natural-length texts
    read as the model reads them (`document`: title twice, the body capped); `cap` overrides
    the shipped cap (0: none)."""
    shipped = examples_module.MAX_TEXT_CHARS
    if cap is not None:
        examples_module.MAX_TEXT_CHARS = cap or 10**9
    try:
        picked = [bodies[i % len(bodies)] for i in range(count)]
        # distinct titles: the model remembers recent documents, and repeats would measure that
        texts = [document(f"Article {i}", body) for i, body in enumerate(picked)]
    finally:
        examples_module.MAX_TEXT_CHARS = shipped
    cpu, wall = time.process_time(), time.perf_counter()
    for start in range(0, len(texts), 500):
        model.predict(texts[start:start + 500])
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    return count / cpu, count / wall, statistics.mean(len(b) for b in picked)


def tags(model: ThemeModel, texts: list[str]) -> list[tuple[tuple[str, ...], bool]]:
    return [(tuple(p.themes), p.china_ai) for p in model.predict(texts)]


def cut(examples: list[Example], cap: int) -> list[Example]:
    return [Example(e.id, e.text[:cap] if cap else e.text, e.themes, e.china_ai, e.title,
                    e.group) for e in examples]


def cap_table(train: list[Example], dev: list[Example], caps: list[int]) -> None:
    """Dev-set quality, natural-length speed and agreement with no cap, per cap on the body."""
    bodies = natural_bodies()
    longest = max(len(e.text) for e in train + dev)
    print(f"quality against the cap on the body (characters; 0 = none); training and dev texts "
          f"are at most {longest:,} characters, so a cap at or above that reads them whole")
    print(f"{'cap':>7}{'themes F1':>11}{'China-AI F1':>13}{'docs/s CPU':>12}{'docs/s wall':>13}"
          f"{'same tags':>11}   natural 2-8 KB texts, uncapped = 100 %")
    y_t = np.array([[t in e.themes for t in THEMES] for e in dev], dtype=int)
    y_r = np.array([e.china_ai for e in dev], dtype=int)
    for cap in caps:
        model = fit(cut(train, cap))
        scores = figures(y_t, y_r, *model_predictor(model)(cut(dev, cap)))
        cpu_rate, wall_rate, _ = natural_speed(model, bodies, cap)
        whole = [f"Article {i}\nArticle {i}\n{b}" for i, b in enumerate(bodies)]
        capped = [f"Article {i}\nArticle {i}\n{b[:cap] if cap else b}"
                  for i, b in enumerate(bodies)]
        same = sum(a == b for a, b in zip(tags(model, whole), tags(model, capped), strict=True))
        print(f"{cap:>7}{scores['themes macro-F1']:>11.3f}{scores['China-AI macro-F1']:>13.3f}"
              f"{cpu_rate:>12,.0f}{wall_rate:>13,.0f}{same / len(bodies):>10.0%}   {load()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-shipped", action="store_true",
                        help="Skip the previous release's model (it needs the git history).")
    parser.add_argument("--caps", type=int, nargs="*", default=[],
                        help="Print dev-set F1 and speed against these caps on the body "
                             "(characters; 0 = none); each cap trains a model.")
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
    rate, wall_rate, load_s, size_kb = speed(model, dev)
    print(f"speed: {rate:,.0f} articles/s of CPU time (distinct 2 KB texts, batches of 500, one "
          f"process; {wall_rate:,.0f}/s wall; {load()}) — target >= 2,000")
    bodies = natural_bodies()
    cpu_rate, wall_rate, mean = natural_speed(model, bodies)
    print(f"speed at natural lengths: {cpu_rate:,.0f} articles/s of CPU time on one core "
          f"({wall_rate:,.0f}/s wall; {load()}) — distinct real articles of 2-8 KB, mean "
          f"{mean / 1000:.1f} KB, {len(bodies)} bodies, the model reading at most "
          f"{examples_module.MAX_TEXT_CHARS:,} characters of each — target >= 2,000")
    print(f"model load: {load_s:.2f} s for a {size_kb:,.0f} KB file — target <= 1 s")
    if args.caps:
        cap_table(train, dev, args.caps)


if __name__ == "__main__":
    main()
