"""CPU-heavy steps of a pass off the event loop: feed parsing (with each entry's canonical
URL) and article-page extraction.

Once latency is hidden a pass is CPU-bound, and in one Python process parsing, HTTP
bookkeeping, hashing and database writes take turns on one core. With CAIT_PARSE_PROCESSES
> 0 these two steps run in a pool of that many processes (started with 'spawn', so no
thread state is forked), and the event loop keeps fetching and writing meanwhile; with 0
they run in the pass's own process. A pool process that dies (a parser crashing on hostile
input) fails only the documents in hand: they come back as a recorded error and the pool is
started again. A pool that keeps dying with nothing done in between (it cannot start at all)
is given up for the in-process way, with an error in the log.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import sys
import types
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from collectors.prepare import (
    PreparedFeed,
    extract_page,
    prepare_changed_feed,
    prepare_feed,
    ready,
    start_pool_process,
)

if TYPE_CHECKING:
    from collectors.pages import ExtractedPage

log = logging.getLogger("cait.collect")
MAX_BROKEN_POOLS = 3  # in a row, without one document handled in between


@contextmanager
def _main_module_hidden() -> Iterator[None]:
    """Processes started inside do not re-import the program that starts them. 'spawn' runs
    the parent's main module again in every child (the `cait` script imports the whole CLI,
    `python -m worker` the classifier and the scheduler: seconds, issue 18); a pool process
    needs nothing from it, only `collectors.prepare`, imported when its first task arrives."""
    main = sys.modules["__main__"]
    sys.modules["__main__"] = types.ModuleType("__main__")
    try:
        yield
    finally:
        sys.modules["__main__"] = main


def _feed_lost(error: BrokenProcessPool) -> PreparedFeed:
    """A feed whose parser process died on it, as a parse error."""
    from collectors.feeds import ParsedFeed

    failed = ParsedFeed(None, [], "", "none",
                        error=f"the parser process died on this feed ({error})"[:300])
    return PreparedFeed(failed, [])


class Offload:
    """Runs `parse_feed` and `extract_page` in worker processes (or inline with 0)."""

    def __init__(self, processes: int) -> None:
        self.processes = max(0, processes)
        self._pool: ProcessPoolExecutor | None = None
        self._broken_in_a_row = 0

    def __enter__(self) -> Offload:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def start(self) -> None:
        """Start the pool's processes now (their imports take a second) so that they are
        ready when the first response arrives; called by every use anyway."""
        if self.processes and self._pool is None:
            self._pool = ProcessPoolExecutor(self.processes,
                                             mp_context=multiprocessing.get_context("spawn"),
                                             initializer=start_pool_process)
            with _main_module_hidden():  # the pool starts a process in `submit` (see _run)
                self._pool.submit(ready)

    def warm(self) -> None:
        """Start the pool and wait until each process has imported what it needs (each is
        kept busy a moment, so that no process takes two of these tasks)."""
        self.start()
        if self._pool is not None:
            with _main_module_hidden():
                futures = [self._pool.submit(ready, 0.2) for _ in range(self.processes)]
            for future in futures:
                future.result()

    def pids(self) -> list[int]:
        """The process ids of the pool's processes now (none before it starts): what the
        benches read the CPU time of, since a pool kept alive is not among reaped children."""
        if self._pool is None:
            return []
        return sorted(self._pool._processes or {})  # ProcessPoolExecutor keeps them by pid

    @property
    def running(self) -> bool:
        """Whether the pool's processes have been started (and not closed)."""
        return self._pool is not None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    async def prepare_feed(self, body: bytes, headers: dict[str, str], url: str
                           ) -> PreparedFeed:
        prepared: PreparedFeed = await self._feed(prepare_feed, body, headers, url)
        return prepared

    async def prepare_changed_feed(self, body: bytes, headers: dict[str, str], url: str,
                                   known_hash: str | None, first: bool = False
                                   ) -> PreparedFeed | None:
        """`prepare.prepare_changed_feed`: None when the body is the one hashed `known_hash`."""
        prepared: PreparedFeed | None = await self._feed(prepare_changed_feed, body, headers,
                                                         url, known_hash, first)
        return prepared

    async def _feed(self, function: Any, *args: Any) -> Any:
        """A feed prepared by `function` in the pool, or its loss as a recorded error."""
        result = await self._run(function, *args, inline_thread=False)
        return _feed_lost(result) if isinstance(result, BrokenProcessPool) else result

    async def extract_page(self, body: bytes, url: str, content_type: str,
                           date_known: bool = False) -> ExtractedPage:
        result = await self._run(extract_page, body, url, content_type, date_known,
                                 inline_thread=True)
        if isinstance(result, BrokenProcessPool):
            from collectors.pages import ExtractedPage

            return ExtractedPage(url=url, canonical_url=url, title=None, text=None, author=None,
                                 published_at=None, language=None, encoding="", related=[],
                                 error=f"the extraction process died on this page ({result})")
        page: ExtractedPage = result
        return page

    async def _run(self, function: Any, *args: Any, inline_thread: bool) -> Any:
        """The function's result, or the BrokenProcessPool that lost it. Inline, a slow
        step (page extraction, ~35 ms) runs in a thread so the loop's timers stay live."""
        self.start()
        pool = self._pool
        if pool is None:
            return await asyncio.to_thread(function, *args) if inline_thread else function(*args)
        try:
            # The pool starts another process (up to its size) when a task is submitted and
            # none is idle: in `submit`, which run_in_executor calls before it returns.
            with _main_module_hidden():
                pending = asyncio.get_running_loop().run_in_executor(pool, function, *args)
            result = await pending
        except BrokenProcessPool as error:
            if self._pool is pool:  # the first of its tasks to fail replaces it
                pool.shutdown(wait=False, cancel_futures=True)
                self._pool = None
                self._broken_in_a_row += 1
                if self._broken_in_a_row >= MAX_BROKEN_POOLS:
                    self.processes = 0
                    log.error("offload: the worker processes died %d times in a row (%s); "
                              "parsing in this process from now on", MAX_BROKEN_POOLS, error)
                else:
                    log.error("offload: a worker process died (%s); starting a new pool", error)
            return error
        self._broken_in_a_row = 0
        return result
