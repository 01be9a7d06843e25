"""The previous release as a baseline: its code checked out in a temporary git worktree.

Benches that print "before" beside "now" run the release before the change (`SHIPPED_REF`)
with its own code, so the baseline is what users had, not a reconstruction.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_REF = "f548194"  # the last commit that landed before issues 12-15


@contextmanager
def shipped_tree() -> Iterator[Path | None]:
    """A temporary worktree of `SHIPPED_REF` (None, with the reason printed, without git)."""
    with tempfile.TemporaryDirectory() as tmp:
        tree = Path(tmp) / "tree"
        added = subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach",
                                str(tree), SHIPPED_REF], capture_output=True, text=True)
        if added.returncode != 0:
            print(f"previous release skipped: {added.stderr.strip().splitlines()[-1]}")
            yield None
            return
        try:
            yield tree
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(tree)],
                           capture_output=True)
