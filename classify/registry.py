"""The model registry: which saved model is current, on disk and in `model_versions`.

`cait train` and the default model's bootstrap record versions here; the worker, `cait
collect`, the demo and `cait classify` ask here for the model to use. Bootstrapping (training
the default model from the committed anchors when none exists) is an explicit, logged step:
`ensure_model`, never a side effect of a getter.
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from classify.model import ThemeModel
from classify.train import Note, default_model, silent
from db.models import ModelVersion

log = logging.getLogger("cait.classify")
CURRENT_FILE = "current.txt"
PREVIOUS_FILE = "previous.txt"  # the model `cait eval` shows beside the current one


def record(session: Session, model: ThemeModel, path: Path) -> ModelVersion:
    """Store the model's row in model_versions and make it the current one."""
    session.execute(update(ModelVersion).values(is_current=False))
    row = session.scalars(select(ModelVersion).where(ModelVersion.version == model.version)
                          ).one_or_none()
    if row is None:
        row = ModelVersion(version=model.version)
        session.add(row)
    row.params, row.metrics, row.path, row.is_current = (model.params, model.metrics, str(path),
                                                         True)
    session.flush()
    return row


def current_model(session: Session) -> ThemeModel | None:
    """The current model of `model_versions`, or None when there is none on disk."""
    row = session.scalars(select(ModelVersion).where(ModelVersion.is_current.is_(True))
                          .order_by(ModelVersion.created_at.desc())).first()
    if row is not None and row.path and Path(row.path).exists():
        return ThemeModel.load(Path(row.path))
    return None


def ensure_model(session: Session, model_dir: Path, note: Note = silent) -> ThemeModel:
    """The current model; when there is none, the default one, trained if needed and recorded."""
    model = current_model(session)
    if model is not None:
        return model
    model = default_model(model_dir, note)
    record(session, model, model_dir / f"{model.version}.joblib")
    log.info("event=model outcome=bootstrapped version=%s path=%s", model.version, model_dir)
    return model


def set_current(model_dir: Path, path: Path, previous: Path | None = None) -> None:
    """Make the saved model at `path` the one `cait classify --input` uses; `previous` (the
    one it replaces) is kept as the one `cait eval` compares it with."""
    if previous is not None and previous.name != path.name:
        (model_dir / PREVIOUS_FILE).write_text(previous.name + "\n", encoding="utf-8")
    (model_dir / CURRENT_FILE).write_text(path.name + "\n", encoding="utf-8")


def file_model_path(model_dir: Path, note: Note = silent) -> Path:
    """Where `file_model` loads from (the default model's file when none was trained)."""
    marker = model_dir / CURRENT_FILE
    if marker.exists():
        path = model_dir / marker.read_text(encoding="utf-8").strip()
        if path.exists():
            return path
    return model_dir / f"{default_model(model_dir, note).version}.joblib"


def previous_file_model(model_dir: Path) -> ThemeModel | None:
    """The model the current one replaced, if its file is still there."""
    marker = model_dir / PREVIOUS_FILE
    if marker.exists():
        path = model_dir / marker.read_text(encoding="utf-8").strip()
        if path.exists():
            return ThemeModel.load(path)
    return None


def file_model(model_dir: Path, note: Note = silent) -> ThemeModel:
    """The model for database-free use: the last one `cait train` made, else the default."""
    marker = model_dir / CURRENT_FILE
    if marker.exists():
        path = model_dir / marker.read_text(encoding="utf-8").strip()
        if path.exists():
            return ThemeModel.load(path)
    return default_model(model_dir, note)
