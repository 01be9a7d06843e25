"""One article as the dashboard and the API show it: its tags with scores and evidence, its
labels, and the Related-News chain (which article led here, what this one links to).

Data only; `web/` renders it as a page and as JSON (`to_json`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, aliased

from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, ArticleLink, ArticleTheme, Label, Source


@dataclass(frozen=True)
class Tag:
    theme: str            # a theme or `china_ai`
    score: float
    assigned: bool
    evidence: list[str]   # the sentences that carry the tag
    model_version: str


@dataclass(frozen=True)
class LinkOut:
    url: str
    anchor_text: str | None
    followed: bool
    to_article_id: int | None
    to_title: str | None


@dataclass(frozen=True)
class Judgement:
    theme: str
    value: bool
    author: str | None
    created_at: datetime


@dataclass(frozen=True)
class ArticleDetail:
    id: int
    title: str | None
    url: str
    source: str | None
    published_at: datetime | None
    first_seen_at: datetime
    language: str | None
    text: str | None
    discovered_via: str
    tags: list[Tag]
    labels: list[Judgement]
    led_here: list[tuple[int, str | None]]   # articles whose Related News led to this one
    links_to: list[LinkOut]

    def to_json(self) -> dict[str, object]:
        def iso(value: datetime | None) -> str | None:
            return value.isoformat() if value else None

        return {"id": self.id, "title": self.title, "url": self.url, "source": self.source,
                "published_at": iso(self.published_at),
                "first_seen_at": iso(self.first_seen_at), "language": self.language,
                "text": self.text, "discovered_via": self.discovered_via,
                "tags": [{"theme": t.theme, "score": round(t.score, 4), "assigned": t.assigned,
                          "evidence": t.evidence, "model_version": t.model_version}
                         for t in self.tags],
                "labels": [{"theme": j.theme, "value": j.value, "author": j.author,
                            "created_at": iso(j.created_at)} for j in self.labels],
                "led_here": [{"id": i, "title": t} for i, t in self.led_here],
                "links_to": [{"url": link.url, "anchor_text": link.anchor_text,
                              "followed": link.followed, "to_article_id": link.to_article_id,
                              "to_title": link.to_title} for link in self.links_to]}


_ORDER = {name: i for i, name in enumerate([RELEVANCE, *THEMES])}


def article_detail(session: Session, article_id: int) -> ArticleDetail | None:
    """The article with this id and everything said about it, or None."""
    article = session.get(Article, article_id)
    if article is None:
        return None
    source = session.get(Source, article.source_id) if article.source_id else None
    tags = sorted((Tag(t.theme, t.score, t.assigned, list(t.evidence or []), t.model_version)
                   for t in session.scalars(select(ArticleTheme)
                                            .where(ArticleTheme.article_id == article_id))),
                  key=lambda t: _ORDER.get(t.theme, len(_ORDER)))
    labels = [Judgement(lab.theme, lab.value, lab.author, lab.created_at)
              for lab in session.scalars(select(Label).where(Label.article_id == article_id)
                                         .order_by(Label.created_at, Label.id))]
    parent = aliased(Article)
    led = session.execute(
        select(parent.id, parent.title).join(ArticleLink, ArticleLink.from_article_id == parent.id)
        .where(ArticleLink.to_article_id == article_id).order_by(parent.id)).all()
    led_here = [(int(i), t) for i, t in led]
    if article.parent_article_id and all(i != article.parent_article_id for i, _ in led_here):
        up = session.get(Article, article.parent_article_id)
        if up is not None:
            led_here.insert(0, (up.id, up.title))
    target = aliased(Article)
    links = session.execute(
        select(ArticleLink, target.title).outerjoin(target, target.id == ArticleLink.to_article_id)
        .where(ArticleLink.from_article_id == article_id)
        .order_by(ArticleLink.position, ArticleLink.id)).all()
    links_to = [LinkOut(link.url, link.anchor_text, link.followed, link.to_article_id, title)
                for link, title in links]
    return ArticleDetail(article.id, article.title, article.canonical_url,
                         source.name if source else None, article.published_at,
                         article.first_seen_at, article.language,
                         article.text or article.summary, article.discovered_via, tags, labels,
                         led_here, links_to)
