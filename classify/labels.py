"""Human labels: the one way a verdict on an article's theme or China-AI relevance is written.

`cait label` and the dashboard's one-click labelling (`web/`) both call `add_labels`; the rows
are what `cait train` learns from next (`classify.examples.label_examples`).
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from common.errors import UserError
from common.vocabulary import RELEVANCE, THEMES
from db.models import Article, Label


def add_labels(session: Session, article_id: int, verdicts: dict[str, bool],
               author: str | None, note: str | None = None) -> int:
    """Write one `labels` row per verdict (a theme or `china_ai` → true/false); the count.

    Unknown themes, an empty verdict and a missing article are `UserError`s (one line)."""
    unknown = set(verdicts) - {*THEMES, RELEVANCE}
    if unknown:
        raise UserError(f"unknown theme(s): {', '.join(sorted(unknown))} "
                        f"(themes are {', '.join(THEMES)})")
    if not verdicts:
        raise UserError(f"article {article_id}: nothing to label (use --theme/--not/"
                        f"--china-ai)")
    if session.get(Article, article_id) is None:
        raise UserError(f"no article with id {article_id}")
    for label, value in verdicts.items():
        session.add(Label(article_id=article_id, theme=label, value=value, author=author,
                          note=note))
    session.flush()
    return len(verdicts)
