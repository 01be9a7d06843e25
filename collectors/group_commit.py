"""Group commit: what finishes close together in a pass is written in one transaction.

The writing step of collection (`update.write_outcomes`) takes a batch of finished sources.
Each source waits here for at most `linger` seconds, or until `most` are waiting, and the
batch goes to the database at once: one transaction, one commit and a few statements for all
of them instead of five round trips and a commit each. On PostgreSQL those round trips were
most of a pass (issue 18: 1,000 loopback feeds took 10.5 s against 4.8 s on SQLite, the
event loop waiting 6.4 s on the server).

A batch that fails as a whole (a bug in one source's data, the database refusing) is written
again one item at a time, so each item gets its own result or its own exception, as if it had
never been batched. An item whose waiting task is cancelled before its batch is written is
not written (a stopped pass writes no source it did not finish).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Generic, TypeVar

log = logging.getLogger("cait.collect")

T = TypeVar("T")
R = TypeVar("R")


class GroupCommit(Generic[T, R]):
    """Gathers items submitted close together and writes them with `write` (a batch in, a
    result per item out, in order), falling back to `write_alone` per item when the batch
    raises. The writing runs on a thread, one batch at a time, so the event loop goes on
    fetching while the database works; what is submitted meanwhile makes the next batch, and
    once that holds `most` items a submitter waits for the batch being written."""

    def __init__(self, write: Callable[[list[T]], list[R]], write_alone: Callable[[T], R], *,
                 linger: float, most: int) -> None:
        self._write, self._write_alone = write, write_alone
        self._linger, self._most = linger, max(1, most)
        self._pending: list[tuple[T, asyncio.Future[R]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future[None] | None = None

    async def submit(self, item: T) -> R:
        """The item's result, once its batch is written."""
        while len(self._pending) >= self._most and self._writing is not None:
            # a full batch waits for the one being written: what is held stays bounded
            await asyncio.shield(self._writing)
        loop = asyncio.get_running_loop()
        future: asyncio.Future[R] = loop.create_future()
        entry = (item, future)
        self._pending.append(entry)
        if len(self._pending) >= self._most:
            self.flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._linger, self.flush)
        try:
            return await future
        except asyncio.CancelledError:
            if entry in self._pending:  # not handed to the writer yet: it never will be
                self._pending.remove(entry)
            raise

    def flush(self) -> None:
        """Hand what is waiting to the writer, unless a batch is being written: then it goes
        when that one is done."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._writing is not None or not self._pending:
            return
        batch, self._pending = self._pending, []
        self._writing = asyncio.ensure_future(self._write_batch(batch))

    async def _write_batch(self, batch: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            try:
                outcomes = await asyncio.to_thread(self._written, [item for item, _ in batch])
            except BaseException:
                for _, future in batch:  # how their writing ended is not known: never leave
                    future.cancel()      # a submitter waiting for it
                raise
            for (_, future), (result, error) in zip(batch, outcomes, strict=True):
                if future.done():  # its task was cancelled meanwhile
                    continue
                if error is not None:
                    future.set_exception(error)
                else:
                    future.set_result(result)  # type: ignore[arg-type]
        finally:
            self._writing = None
            if self._pending:
                self.flush()

    def _written(self, items: list[T]) -> list[tuple[R | None, Exception | None]]:
        """On the writing thread: each item's result or exception."""
        try:
            results = self._write(items)
        except Exception as error:
            log.warning("a batch of %d writes failed (%s: %s); writing them one by one",
                        len(items), type(error).__name__,
                        (str(error).splitlines() or [""])[0][:200])
        else:
            return [(result, None) for result in results]
        outcomes: list[tuple[R | None, Exception | None]] = []
        for item in items:
            try:
                outcomes.append((self._write_alone(item), None))
            except Exception as error:  # handed to the item's own task
                outcomes.append((None, error))
        return outcomes

    async def drain(self) -> None:
        """Write what is still waiting and wait for the batch being written."""
        while self._pending or self._writing is not None:
            self.flush()
            if self._writing is not None:
                await asyncio.shield(self._writing)
