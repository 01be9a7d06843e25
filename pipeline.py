"""One pass of the tracker: collect due sources, follow gated Related-News links, tag what is new.

The driver-level step that the worker, `cait collect` and the demo all call (and its sibling
for `cait backfill`: collect a source's past articles, then tag them the same way). It wires the
stages together (they never import each other): the classifier's relevance score becomes the
collectors' Related-News gate, and the articles the pass stored are tagged by the same model.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from classify.tagging import TagReport, any_untagged, relevance_gate, tag_articles
from collectors.offload import Offload
from collectors.report import PassReport, SourceReport
from collectors.robots import RobotsCache
from collectors.update import collect
from common.vocabulary import THEMES
from config import Settings
from db.queries import current_model
from db.session import session_scope

if TYPE_CHECKING:  # the sitemap parser is imported by `cait backfill` only, not by every pass
    from classify.model import ThemeModel  # scikit-learn: imported when a pass needs it
    from classify.train import Note
    from collectors.backfill_run import BackfillReport, Limits


@dataclass(frozen=True)
class PassResult:
    """What one pass did: the per-source collection report and the tagging counts."""

    collected: PassReport
    tagged: TagReport


def prepare_model(engine: Engine, settings: Settings, note: Note | None = None) -> ThemeModel:
    """The model the pass uses: the current one, or the default one bootstrapped (logged;
    `note` hears what the bootstrap's training is doing)."""
    from classify.registry import ensure_model
    from classify.train import silent

    with session_scope(engine) as session:
        return ensure_model(session, settings.effective_model_dir, note or silent)


class _PassModel:
    """The pass's model, loaded when something needs it: a Related-News link to gate or an
    article to tag. A pass with neither (`cait collect` with nothing due) never imports
    scikit-learn nor loads a model (issue 18)."""

    def __init__(self, engine: Engine, settings: Settings, model: ThemeModel | None,
                 note: Note | None) -> None:
        self.engine, self.settings, self.note = engine, settings, note
        self.model = model
        self._gate: Callable[[str], float] | None = None

    def get(self) -> ThemeModel:
        if self.model is None:
            self.model = prepare_model(self.engine, self.settings, self.note)
        return self.model

    def gate(self, anchor_text: str) -> float:
        if self._gate is None:
            self._gate = relevance_gate(self.get())
        return self._gate(anchor_text)

    def nothing_to_tag(self, session: Session) -> bool:
        """True when the current model (on disk) has tagged every article already, or when
        there is no article at all."""
        version = ""  # no model yet: every article is untagged
        if self.model is not None:
            version = self.model.version
        elif (row := current_model(session)) is not None and row.path and Path(row.path).exists():
            version = row.version
        return not any_untagged(session, version)


def run_pass(engine: Engine, settings: Settings, *, model: ThemeModel | None = None,
             names: list[str] | None = None, due_only: bool = True, owner: str = "cli",
             stop: threading.Event | None = None, robots: RobotsCache | None = None,
             offload: Offload | None = None,
             on_source_done: Callable[[SourceReport], None] | None = None,
             on_stage: Callable[[str], None] | None = None,
             note: Note | None = None) -> PassResult:
    """Collect (due or named) sources with the model's relevance gate, then tag new articles.
    Without `model` the current one is loaded (or bootstrapped, telling `note`) when first
    needed."""
    pass_model = _PassModel(engine, settings, model, note)
    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    report = collect(sessions, settings, names=names, due_only=due_only,
                     gate=pass_model.gate, robots=robots, offload=offload,
                     on_source_done=on_source_done, owner=owner, stop=stop)
    if on_stage is not None:
        on_stage("classifying")
    with session_scope(engine) as session:
        if pass_model.nothing_to_tag(session):
            return PassResult(report, TagReport(by_theme={t: 0 for t in THEMES}))
        # Commit each batch of 500: a stop, a kill or a lost database keeps what was tagged,
        # and SQLite's write lock is never held for a whole backlog.
        tagged = tag_articles(session, pass_model.get(),
                              progress=lambda _count: session.commit(),
                              should_stop=stop.is_set if stop is not None else None)
    return PassResult(report, tagged)


@dataclass(frozen=True)
class BackfillResult:
    """What one backfill run did: the collection report and the tagging counts."""

    collected: BackfillReport
    tagged: TagReport


def run_backfill(engine: Engine, settings: Settings, name: str, since: datetime,
                 until: datetime | None = None, *, model: ThemeModel | None = None,
                 limits: Limits | None = None, stop: threading.Event | None = None,
                 on_discovery: Callable[[int, int], None] | None = None,
                 on_total: Callable[[int], None] | None = None,
                 on_item: Callable[[str], None] | None = None) -> BackfillResult:
    """Collect source `name`'s past articles in [since, until), then tag what is untagged,
    as a pass does: the backfilled articles count in the timelines at their dates."""
    from collectors.backfill import backfill

    sessions = sessionmaker(bind=engine, expire_on_commit=False)
    report = backfill(sessions, settings, name, since, until, limits=limits, stop=stop,
                      on_discovery=on_discovery, on_total=on_total, on_item=on_item)
    model = model if model is not None else prepare_model(engine, settings)
    with session_scope(engine) as session:
        tagged = tag_articles(session, model, progress=lambda _count: session.commit(),
                              should_stop=stop.is_set if stop is not None else None)
    return BackfillResult(report, tagged)
