"""The one error tree: what a user or operator can act on.

Every error meant for a person is a `CaitError`; the CLI (`cli/_common.py`) and the worker
(`worker.py`) each turn it into one line in exactly one place. Anything else that escapes is a
bug and keeps its traceback.
"""

from __future__ import annotations


class CaitError(Exception):
    """An error with a one-line message for the person running cait."""


class UserError(CaitError):
    """A problem the user can fix (bad input, missing setup)."""


class ModelMismatch(CaitError):
    """A saved model that this installation cannot use safely (retrain with `cait train`)."""


class WorkerRefused(CaitError):
    """This worker must not start (another one holds the SQLite database, or the schema is old)."""


def one_line(error: BaseException) -> str:
    """The error's message on one line, control characters removed."""
    text = " ".join(str(error).split()) or type(error).__name__
    return "".join(ch for ch in text if ch.isprintable())
