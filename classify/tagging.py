"""Apply a model to stored articles: one `article_themes` row per article and label.

Rows are replaced, not accumulated: each article carries the verdict of the model that
tagged it last, and `model_version` says which one that was.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, case, delete, exists, func, select
from sqlalchemy.orm import Session

from classify.examples import document
from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleTheme, Label, utcnow
from db.rollup import refresh_days

if TYPE_CHECKING:  # scikit-learn: a pass with nothing to tag does not import it
    from classify.model import ThemeModel

BATCH = 500


@dataclass
class TagReport:
    tagged: int = 0
    china_ai: int = 0
    by_theme: dict[str, int] | None = None


def _untagged(stmt: Select[Any], version: str) -> Select[Any]:
    return stmt.where(~exists().where(and_(
        ArticleTheme.article_id == Article.id, ArticleTheme.theme == RELEVANCE,
        ArticleTheme.model_version == version)))


def untagged_ids(session: Session, version: str, retag_all: bool) -> list[int]:
    """Articles without a verdict from model `version` (or all articles)."""
    stmt = select(Article.id).order_by(Article.id)
    return list(session.scalars(stmt if retag_all else _untagged(stmt, version)))


def any_untagged(session: Session, version: str) -> bool:
    """Whether some article has no verdict from model `version` (one row read at most)."""
    return session.scalar(_untagged(select(Article.id), version).limit(1)) is not None


def tag_articles(session: Session, model: ThemeModel, *, retag_all: bool = False,
                 progress: Callable[[int], None] | None = None,
                 should_stop: Callable[[], bool] | None = None,
                 on_total: Callable[[int], None] | None = None) -> TagReport:
    """Tag articles in batches of 500 within the caller's transaction (flushes per batch).

    `on_total` hears how many articles will be tagged, `progress` how many each batch did.
    `should_stop` is asked between batches, so a stopping worker leaves within one batch's
    time at any backlog; what was tagged so far stays for the caller to commit.
    """
    ids = untagged_ids(session, model.version, retag_all)
    if on_total is not None:
        on_total(len(ids))
    report = TagReport(by_theme={t: 0 for t in THEMES})
    assert report.by_theme is not None
    for start in range(0, len(ids), BATCH):
        if should_stop is not None and should_stop():
            break
        batch = ids[start:start + BATCH]
        rows = session.execute(select(Article.id, Article.title, Article.text, Article.summary,
                                      func.coalesce(Article.published_at,
                                                    Article.first_seen_at))
                               .where(Article.id.in_(batch))).all()
        docs = [document(title, text or summary) for _, title, text, summary, _ in rows]
        predictions = model.predict(docs)
        session.execute(delete(ArticleTheme).where(ArticleTheme.article_id.in_(batch)))
        now = utcnow()
        for (article_id, *_), doc, prediction in zip(rows, docs, predictions, strict=True):
            evidence = model.evidence(doc, prediction)
            for theme in THEMES:
                assigned = theme in prediction.themes
                session.add(ArticleTheme(article_id=article_id, theme=theme,
                                         score=prediction.scores[theme], assigned=assigned,
                                         model_version=model.version, assigned_at=now,
                                         evidence=evidence.get(theme, [])))
                report.by_theme[theme] += int(assigned)
            session.add(ArticleTheme(article_id=article_id, theme=RELEVANCE,
                                     score=prediction.china_ai_score,
                                     assigned=prediction.china_ai, model_version=model.version,
                                     assigned_at=now, evidence=evidence.get(RELEVANCE, [])))
            report.china_ai += int(prediction.china_ai)
        session.flush()
        refresh_days(session, (dated.date() for *_, dated in rows))
        report.tagged += len(rows)
        if progress is not None:
            progress(len(rows))
    return report


def relevance_gate(model: ThemeModel) -> Callable[[str], float]:
    """The China-AI relevance score as the collectors' gate for Related-News anchor text."""

    threshold = model.relevance_threshold

    def score(anchor_text: str) -> float:
        raw = model.predict([document(anchor_text, "")])[0].china_ai_score
        # rescale so the model's own threshold lands on the gate's 0.5
        if raw >= threshold:
            return 0.5 + 0.5 * (raw - threshold) / max(1e-9, 1 - threshold)
        return 0.5 * raw / max(1e-9, threshold)

    return score


def least_certain(session: Session, model: ThemeModel, limit: int) -> list[tuple[int, float]]:
    """Unlabelled articles whose scores from `model` lie closest to a threshold (smallest
    margin first): the ones a label would teach the most. (article id, margin)."""
    cuts = {**model.thresholds, RELEVANCE: model.relevance_threshold}
    cut = case(*((ArticleTheme.theme == label, value) for label, value in cuts.items()),
               else_=0.5)
    margin = func.min(func.abs(ArticleTheme.score - cut)).label("margin")
    rows = session.execute(
        select(ArticleTheme.article_id, margin)
        .where(ArticleTheme.model_version == model.version,
               ~exists().where(Label.article_id == ArticleTheme.article_id))
        .group_by(ArticleTheme.article_id)
        .order_by(margin, ArticleTheme.article_id)
        .limit(limit)).all()
    return [(int(article_id), float(value)) for article_id, value in rows]
