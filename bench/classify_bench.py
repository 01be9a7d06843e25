"""Classifier quality and speed on the dev set, beside the two baselines, in one run.

Quality (bench/data/dev.jsonl: 81 real articles labelled by hand, never trained on):
  keywords        – term counting with a hit threshold per label, tuned on the training data
  tfidf-seeds     – TF-IDF + logistic regression trained on the seed paragraphs alone
  cait            – the shipped model (trained on classify/anchors/)
Speed: articles per second classified on one core for ~2 KB texts, and model load time.

Run: .venv/bin/python -m bench.classify_bench
"""

from __future__ import annotations

import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.multiclass import OneVsRestClassifier
from sklearn.pipeline import make_pipeline

from classify.examples import ANCHORS, Example, anchor_examples, labelled_file
from classify.model import ThemeModel
from classify.train import KeywordBaseline, evaluate, fit, model_predictor
from common.vocabulary import THEMES

DEV = Path(__file__).resolve().parent / "data" / "dev.jsonl"


def seeds_only_predictor(seeds: list[Example]):  # type: ignore[no-untyped-def]
    docs = [e.document for e in seeds]
    y = np.array([[t in e.themes for t in THEMES] for e in seeds], dtype=int)
    y_rel = np.array([e.china_ai for e in seeds], dtype=int)
    themes = make_pipeline(TfidfVectorizer(sublinear_tf=True),
                           OneVsRestClassifier(LogisticRegression(max_iter=1000))).fit(docs, y)
    rel = make_pipeline(TfidfVectorizer(sublinear_tf=True),
                        LogisticRegression(max_iter=1000)).fit(docs, y_rel)

    def predict(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
        d = [e.document for e in examples]
        return (np.asarray(themes.predict_proba(d)) >= 0.5).astype(int), rel.predict(d)
    return predict


def row(name: str, scores: dict) -> str:  # type: ignore[type-arg]
    per = " ".join(f"{scores['themes'][t]['f1']:>11.3f}" for t in THEMES)
    return f"{name:13} {per} {scores['macro_f1']:>9.3f} {scores['china_ai']['macro_f1']:>9.3f}"


def main() -> None:
    warnings.simplefilter("ignore")
    train = anchor_examples()
    dev = labelled_file(DEV)
    seeds = labelled_file(ANCHORS / "seeds.jsonl")
    model = fit(train)
    print(f"dev set: {len(dev)} articles ({sum(e.china_ai for e in dev)} about China's AI); "
          f"training: {len(train)} examples")
    print(f"{'':13} {' '.join(f'{t:>11}' for t in THEMES)} {'macro-F1':>9} {'china_ai':>9}")
    print(row("keywords", evaluate(KeywordBaseline.tune(train).predict, dev)))
    print(row("tfidf-seeds", evaluate(seeds_only_predictor(seeds), dev)))
    print(row("cait", evaluate(model_predictor(model), dev)))
    cv = model.metrics["cross_validated"]
    print(f"cait cross-validated on its training data: macro-F1 {cv['macro_f1']:.3f}, "
          f"china_ai {cv['china_ai']['macro_f1']:.3f}")

    texts = [(e.document * 4)[:2000] for e in dev] * 25
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
    print(f"speed: {rate:,.0f} articles/s (2 KB texts, batches of 500, one process) "
          f"— target >= 2,000")
    print(f"model load: {load_s:.2f} s for a {size_kb:,.0f} KB file — target <= 1 s")


if __name__ == "__main__":
    main()
