"""Which Related-News links to follow: the relevance gate on anchor text, and the default one.

The collectors take the gate as a plain callable (anchor text → score in [0, 1]) so the
worker can pass the classifier's China-AI relevance score; `keyword_relevance` is the gate
used when no model is given: China/Chinese-AI entities, or AI together with chips, by the
term lists the classifier uses (`common/terms.toml`).
"""

from __future__ import annotations

from collections.abc import Callable

from common.vocabulary import RELEVANCE, default_matcher

RelevanceGate = Callable[[str], float]
GATE_THRESHOLD = 0.5


def keyword_relevance(text: str) -> float:
    """1.0 for China-AI anchor text, 0.6 for AI-chips text, else 0.0."""
    found = default_matcher().count(text)
    china, ai, chips = bool(found[RELEVANCE]), bool(found["ai"]), bool(found["chips"])
    if china and (ai or chips):
        return 1.0
    if china or (ai and chips):
        return 0.6
    return 0.0
