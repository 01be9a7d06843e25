"""Fit, cross-validate and evaluate the classifier; record model versions; find the model to use.

Training is deterministic: fixed folds and seeds, solvers without randomness, and a version
id that is a hash of the training data and parameters, so the same data gives the same
model and the same version.
"""

from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score, precision_recall_fscore_support
from sklearn.model_selection import GroupKFold, cross_val_predict

from classify.examples import Example, anchor_examples
from classify.model import ThemeModel, build_relevance_pipeline, build_theme_pipeline
from common.vocabulary import RELEVANCE, THEMES, default_matcher, load_terms

# Told what training is doing, in a few words per step (the CLI shows it; training takes
# seconds, and a command that says nothing for that long looks hung).
Note = Callable[[str], None]


def silent(_message: str) -> None:
    pass


# Chosen by cross-validation grouped by site on the training set (never on the dev set).
DEFAULT_PARAMS: dict[str, Any] = {"c": 10.0, "max_features": 60_000, "words_weight": 1.5,
                                  "ngram_max": 1, "relevance_c": 10.0,
                                  "relevance_words_weight": 1.0, "folds": 5, "seed": 0}


def _best_threshold(truth: np.ndarray, scores: np.ndarray, macro: bool = False) -> float:
    """The cut on out-of-fold scores with the best F1 (macro over both classes if asked)."""
    if truth.sum() == 0 or truth.sum() == len(truth):
        return 0.5
    candidates = np.unique(np.concatenate([np.round(scores, 4), np.linspace(0.1, 0.9, 33)]))
    best, best_f1 = 0.5, -1.0
    for cut in candidates:
        pred = scores >= cut
        f1 = float(f1_score(truth, pred, average="macro" if macro else "binary",
                            zero_division=0))
        if f1 > best_f1 + 1e-9:
            best, best_f1 = float(cut), f1
    return float(min(0.85, max(0.15, best)))


def _matrix(examples: list[Example]) -> tuple[list[str], np.ndarray, np.ndarray]:
    docs = [e.document for e in examples]
    y_themes = np.array([[t in e.themes for t in THEMES] for e in examples], dtype=int)
    y_rel = np.array([e.china_ai for e in examples], dtype=int)
    return docs, y_themes, y_rel


def training_hash(examples: list[Example], params: dict[str, Any]) -> str:
    digest = hashlib.sha256()
    digest.update(json.dumps({**params, "sklearn": sklearn.__version__}, sort_keys=True).encode())
    terms = load_terms()
    digest.update(json.dumps({k: list(v) for k, v in sorted(terms.items())}).encode())
    for e in examples:
        digest.update(json.dumps([e.document, sorted(e.themes), e.china_ai],
                                 ensure_ascii=False).encode())
    return digest.hexdigest()


def _theme_pipeline(p: dict[str, Any]) -> Any:
    return build_theme_pipeline(p["c"], p["max_features"], p["words_weight"], p["ngram_max"])


def _relevance_pipeline(p: dict[str, Any]) -> Any:
    return build_relevance_pipeline(p["relevance_c"], p["relevance_words_weight"])


def fit(examples: list[Example], params: dict[str, Any] | None = None,
        note: Note = silent) -> ThemeModel:
    """Cross-validate to choose thresholds and measure quality, then fit on everything."""
    p = {**DEFAULT_PARAMS, **(params or {})}
    docs, y_themes, y_rel = _matrix(examples)
    # Folds by site: a site's articles share boilerplate and house style, and a model
    # scored on a site it trained on looks better than it is on the next site.
    folds = list(GroupKFold(p["folds"]).split(docs, y_rel, [e.group for e in examples]))
    with warnings.catch_warnings():
        # folds without a positive for a rare theme are expected with few labels
        warnings.simplefilter("ignore", UserWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        note(f"cross-validating the theme model on {len(examples)} examples "
             f"({len(folds)} folds by site)")
        oof = cross_val_predict(_theme_pipeline(p), docs, y_themes, cv=folds,
                                method="predict_proba")
        note("cross-validating the China-AI relevance model")
        rel_oof = cross_val_predict(_relevance_pipeline(p), docs, y_rel, cv=folds,
                                    method="predict_proba")[:, 1]
        note(f"fitting both models on all {len(examples)} examples")
        themes_pipeline = _theme_pipeline(p).fit(docs, y_themes)
        relevance_pipeline = _relevance_pipeline(p).fit(docs, y_rel)
    thresholds = {t: _best_threshold(y_themes[:, i], oof[:, i]) for i, t in enumerate(THEMES)}
    rel_threshold = _best_threshold(y_rel, rel_oof, macro=True)
    cv_pred = np.column_stack([oof[:, i] >= thresholds[t] for i, t in enumerate(THEMES)])
    metrics = {"cross_validated": scores(y_themes, cv_pred, y_rel, rel_oof >= rel_threshold),
               "examples": len(examples),
               "positives": {t: int(y_themes[:, i].sum()) for i, t in enumerate(THEMES)},
               "china_ai_positives": int(y_rel.sum())}
    version = f"tfidf-terms-{training_hash(examples, p)[:12]}"
    return ThemeModel(themes_pipeline, relevance_pipeline, thresholds, rel_threshold, version,
                      {**p, "sklearn": sklearn.__version__, "thresholds": thresholds,
                       "relevance_threshold": rel_threshold}, metrics)


def scores(y_themes: np.ndarray, pred_themes: np.ndarray, y_rel: np.ndarray,
           pred_rel: np.ndarray) -> dict[str, Any]:
    """Per-theme precision/recall/F1, their macro-F1, and relevance macro-F1 over both classes."""
    per_theme = {}
    for i, theme in enumerate(THEMES):
        p, r, f, _ = precision_recall_fscore_support(y_themes[:, i], pred_themes[:, i],
                                                     average="binary", zero_division=0)
        per_theme[theme] = {"precision": round(float(p), 3), "recall": round(float(r), 3),
                            "f1": round(float(f), 3), "support": int(y_themes[:, i].sum())}
    return {"themes": per_theme,
            "macro_f1": round(float(np.mean([v["f1"] for v in per_theme.values()])), 3),
            RELEVANCE: {"macro_f1": round(float(f1_score(y_rel, pred_rel, average="macro",
                                                          zero_division=0)), 3),
                        "support": int(y_rel.sum()), "n": len(y_rel)}}


Predictor = Callable[[list[Example]], tuple[np.ndarray, np.ndarray]]


def evaluate(predict: Predictor, gold: list[Example]) -> dict[str, Any]:
    """Scores of any predictor (model or baseline) on labelled examples."""
    _, y_themes, y_rel = _matrix(gold)
    pred_themes, pred_rel = predict(gold)
    return scores(y_themes, pred_themes, y_rel, pred_rel)


def model_predictor(model: ThemeModel) -> Predictor:
    def predict(examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
        preds = model.predict([e.document for e in examples])
        return (np.array([[t in p.themes for t in THEMES] for p in preds], dtype=int),
                np.array([p.china_ai for p in preds], dtype=int))
    return predict


@dataclass
class KeywordBaseline:
    """Term counting with a hit threshold per label tuned on training data (the baseline)."""

    cutoffs: dict[str, int]

    @staticmethod
    def hits(document_text: str, label: str) -> int:
        return sum(default_matcher().count(document_text)[label].values())

    @classmethod
    def tune(cls, examples: list[Example]) -> KeywordBaseline:
        cutoffs = {}
        for label in [*THEMES, RELEVANCE]:
            truth = np.array([(label in e.themes) if label != RELEVANCE else e.china_ai
                              for e in examples], dtype=int)
            counts = np.array([cls.hits(e.document, label) for e in examples])
            best = max(range(1, 16), key=lambda k: (f1_score(
                truth, counts >= k, average="macro" if label == RELEVANCE else "binary",
                zero_division=0), -k))
            cutoffs[label] = best
        return cls(cutoffs)

    def predict(self, examples: list[Example]) -> tuple[np.ndarray, np.ndarray]:
        themes = np.array([[self.hits(e.document, t) >= self.cutoffs[t] for t in THEMES]
                           for e in examples], dtype=int)
        rel = np.array([self.hits(e.document, RELEVANCE) >= self.cutoffs[RELEVANCE]
                        for e in examples], dtype=int)
        return themes, rel


def default_model(model_dir: Path, note: Note = silent) -> ThemeModel:
    """The model trained from the committed anchors only; trained and saved on first use."""
    examples = anchor_examples()
    version = f"tfidf-terms-{training_hash(examples, DEFAULT_PARAMS)[:12]}"
    path = model_dir / f"{version}.joblib"
    if path.exists():
        try:
            return ThemeModel.load(path)
        except Exception:  # a stale or broken file is retrained, not fatal
            path.unlink()
    note(f"no model yet: training the default model from the {len(examples)} committed "
         f"anchor examples (first use only, about 10 s; saved in {model_dir})")
    model = fit(examples, note=note)
    model.save(model_dir)
    return model
