"""Narrative evolution within a theme: what is said, and how it shifts from period to period.

- Distinctive terms per period: class-based TF-IDF (each period's articles form one document;
  a term scores high when frequent in that period and rare across the others).
- Entering / leaving terms: distinctive this period but not the last, and the reverse.
- Vocabulary drift: Jensen–Shannon distance between a period's term distribution and the
  previous one's; flagged when above the mean + 2 standard deviations of the earlier
  distances (at least 3 of them), so a change of story shows even when volume stays flat.
- Sub-narratives: k-means clusters of the theme's articles (TF-IDF, fixed seed), each
  labelled by its top terms, with its count per period.
- Seed framings: phrases from the seed articles ("chip and data gaps", "brain gain", …)
  counted per period where they recur.
"""

from __future__ import annotations

import math
import warnings
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import numpy as np
from scipy.spatial.distance import jensenshannon
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS, TfidfVectorizer
from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from common.text import content_words
from common.vocabulary import RELEVANCE
from db.models import Article, ArticleTheme
from db.queries import dated_between
from reports.timeline import period_of

SEED_FRAMINGS = {
    "chip and data gaps": ("chip", "data", "gap"),
    "hardware constraints breed innovation": ("constraint", "innovation"),
    "brain gain": ("brain gain",),
    "research culture": ("research culture",),
    "engineer-led governance": ("engineer",),
    "open ecosystem": ("open ecosystem",),
    "export controls": ("export control",),
    "talent density": ("talent density",),
}
TOP_TERMS = 8
# Words every China-AI article shares, and scikit-learn's English stopword list (318 words,
# "anywhere" and "whereas" among them) on top of the tokenizer's own short list.
_DOMAIN_STOP = frozenset({"china", "chinese", "ai", "company", "companies", "中国", "人工智能",
                          "公司", "企业", "技术", "发展"}) | ENGLISH_STOP_WORDS


def words(value: str) -> list[str]:
    """The terms narratives and digests compare: content words, Chinese included."""
    return [w for w in content_words(value) if w not in _DOMAIN_STOP]


@dataclass
class PeriodNarrative:
    period: str
    articles: int
    distinctive: list[str]
    entering: list[str]
    leaving: list[str]
    drift: float | None            # Jensen–Shannon distance to the previous period
    drift_flag: bool
    headlines: list[tuple[str, str]]          # (title, url)
    framings: dict[str, int] = field(default_factory=dict)


@dataclass
class SubNarrative:
    label: str
    terms: list[str]
    articles: int
    trend: dict[str, int]


@dataclass
class Narratives:
    theme: str
    by: str
    periods: list[PeriodNarrative]
    clusters: list[SubNarrative]

    def to_json(self) -> dict[str, object]:
        return {"theme": self.theme, "by": self.by,
                "periods": [p.__dict__ | {"headlines": [{"title": t, "url": u}
                                                        for t, u in p.headlines]}
                            for p in self.periods],
                "sub_narratives": [c.__dict__ for c in self.clusters]}


def _articles(session: Session, theme: str, since: datetime | None, until: datetime | None
              ) -> list[tuple[Article, float]]:
    dated = func.coalesce(Article.published_at, Article.first_seen_at)
    tag, relevance = aliased(ArticleTheme), aliased(ArticleTheme)
    window = dated_between(since, until)
    stmt = (select(Article, tag.score)
            .join(tag, and_(tag.article_id == Article.id, tag.theme == theme, tag.assigned))
            .join(relevance, and_(relevance.article_id == Article.id,
                                  relevance.theme == RELEVANCE, relevance.assigned))
            .where(Article.duplicate_of.is_(None), window).order_by(dated, Article.id))
    return [(a, float(s)) for a, s in session.execute(stmt).all()]


def _framing_hits(text: str) -> dict[str, int]:
    lowered = text.lower()
    return {name: 1 for name, parts in SEED_FRAMINGS.items() if all(p in lowered for p in parts)}


def build_narratives(session: Session, theme: str, *, by: str = "week",
                     since: datetime | None = None, until: datetime | None = None,
                     clusters: int = 4) -> Narratives:
    rows = _articles(session, theme, since, until)
    by_period: dict[str, list[tuple[Article, float]]] = {}
    for article, score in rows:
        day = (article.published_at or article.first_seen_at).date()
        by_period.setdefault(period_of(day, by), []).append((article, score))
    periods = sorted(by_period)
    texts = {p: " ".join(f"{a.title or ''} {a.text or a.summary or ''}" for a, _ in by_period[p])
             for p in periods}
    counts = {p: Counter(words(texts[p])) for p in periods}
    total = Counter[str]()
    for c in counts.values():
        total.update(c)
    avg_words = (sum(total.values()) / len(periods)) if periods else 1.0
    out: list[PeriodNarrative] = []
    previous_top: list[str] = []
    previous_counts: Counter[str] | None = None
    distances: list[float] = []
    for p in periods:
        c = counts[p]
        size = max(1, sum(c.values()))
        scored = {t: (n / size) * math.log(1 + avg_words / total[t]) for t, n in c.items()
                  if n >= 2 or len(by_period[p]) == 1}
        top = [t for t, _ in sorted(scored.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_TERMS]]
        drift = flag = None
        if previous_counts is not None:
            vocab = sorted(set(c) | set(previous_counts))
            a = np.array([c[t] for t in vocab], dtype=float) + 1e-9
            b = np.array([previous_counts[t] for t in vocab], dtype=float) + 1e-9
            drift = float(jensenshannon(a / a.sum(), b / b.sum(), base=2))
            if len(distances) >= 3:
                flag = drift > float(np.mean(distances) + 2 * np.std(distances))
            distances.append(drift)
        framings: Counter[str] = Counter()
        for article, _ in by_period[p]:
            framings.update(_framing_hits(f"{article.title or ''} {article.text or ''}"))
        headlines = [(a.title or a.canonical_url, a.canonical_url)
                     for a, _ in sorted(by_period[p], key=lambda x: -x[1])[:3]]
        out.append(PeriodNarrative(p, len(by_period[p]), top,
                                   [t for t in top if t not in previous_top],
                                   [t for t in previous_top if t not in top], drift,
                                   bool(flag), headlines, dict(framings)))
        previous_top, previous_counts = top, c
    return Narratives(theme, by, out, _clusters(rows, by, clusters))


def _clusters(rows: list[tuple[Article, float]], by: str, k: int) -> list[SubNarrative]:
    docs = [f"{a.title or ''} {a.title or ''} {a.text or a.summary or ''}" for a, _ in rows]
    k = min(k, len(docs) // 3)
    if k < 2:
        return []
    vectorizer = TfidfVectorizer(tokenizer=words, token_pattern=None, lowercase=False,
                                 sublinear_tf=True, min_df=2, max_df=0.8)
    try:
        matrix = vectorizer.fit_transform(docs)
    except ValueError:  # every term too rare or too common: nothing to cluster on
        return []
    with warnings.catch_warnings():
        # fewer distinct articles than clusters (syndicated copies): empty clusters are dropped
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = KMeans(n_clusters=k, n_init=10, random_state=0).fit(matrix)
    names = vectorizer.get_feature_names_out()
    result = []
    for cluster in range(k):
        members = [rows[i][0] for i in np.flatnonzero(model.labels_ == cluster)]
        if not members:
            continue
        centre = model.cluster_centers_[cluster]
        terms = [str(names[i]) for i in np.argsort(-centre, kind="stable")[:5]]  # ties: a-z
        trend = Counter(period_of((a.published_at or a.first_seen_at).date(), by)
                        for a in members)
        result.append(SubNarrative(" / ".join(terms[:3]), terms, len(members),
                                   dict(sorted(trend.items()))))
    return sorted(result, key=lambda c: -c.articles)
