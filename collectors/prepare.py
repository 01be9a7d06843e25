"""What the parser processes run (`collectors.offload` starts them): a feed parsed and its
entries' URLs made canonical, an article page extracted, and each process's start.

A pool process imports this module, not `collectors.offload`: it needs neither asyncio nor
the pool's bookkeeping, only these functions (issue 18: a parser process's start is part of
a pass). The parsers and extraction themselves are imported where they first run.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from collectors.dedup import Fingerprint, body_hash, fingerprint
from collectors.urls import canonical_urls

if TYPE_CHECKING:
    from collectors.feeds import ParsedFeed
    from collectors.pages import ExtractedPage


@dataclass(frozen=True)
class PreparedFeed:
    """A parsed feed with, per entry, its canonical URL, and for a source's feed the body's
    hash (`prepare_changed_feed`). A changed feed's texts are fingerprinted by the writing
    process, which knows which entries are new: here every entry was, in each parser process
    apart, stored or not (issue 18). A source's first feed comes with the fingerprints of its
    entries (`fingerprints`, by canonical URL), SimHash included: its entries are new to it,
    and most are stored."""

    parsed: ParsedFeed
    canonical_urls: list[str]
    body_hash: str | None = None
    fingerprints: dict[str, Fingerprint] | None = None


def prepare_feed(body: bytes, headers: dict[str, str], url: str) -> PreparedFeed:
    # The parsers and extraction are imported where they run (in the parser processes, or
    # here when parsing inline): a pass with nothing to parse loads none of them (issue 18).
    from collectors.feeds import parse_feed

    parsed = parse_feed(body, headers, url)
    return PreparedFeed(parsed, canonical_urls([e.url for e in parsed.entries]))


def prepare_changed_feed(body: bytes, headers: dict[str, str], url: str,
                         known_hash: str | None, first: bool = False) -> PreparedFeed | None:
    """`prepare_feed` for a source's feed, with the body's hash (`dedup.body_hash`); None when
    that hash is `known_hash`, the source's last body: nothing new to parse. The body is
    hashed here, where it is anyway: SHA-256 took 0.7 ms of a 100 KB feed in the writing
    process, the busiest of a pass (issue 18).

    `first`: the source's first feed whose entries are stored as they stand (no full text to
    fetch), fingerprinted here too (`PreparedFeed.fingerprints`). Nearly all of its entries
    are stored, and the SimHash of each was the writing process's largest cost in a first
    pass over many new sources (0.9 s of its 6 s of CPU for 1,000 feeds)."""
    digest = body_hash(body)
    if digest == known_hash:
        return None
    prepared = prepare_feed(body, headers, url)
    prints = None
    if first:
        prints = {}
        for canonical, entry in zip(prepared.canonical_urls, prepared.parsed.entries,
                                    strict=True):
            if canonical not in prints:  # the first entry of each URL, as `new_entries` takes
                prints[canonical] = fingerprint(entry.body_for_identity).resolved()
    return PreparedFeed(prepared.parsed, prepared.canonical_urls, digest, prints)


def extract_page(body: bytes, url: str, content_type: str, date_known: bool) -> ExtractedPage:
    """`pages.extract_page` with its keyword argument as a positional one (for the pool)."""
    from collectors.pages import extract_page as extract

    return extract(body, url, content_type, date_known=date_known)


def ready(pause: float = 0.0) -> bool:
    """A task that only says the process is up (after `pause`, to keep it busy a moment)."""
    time.sleep(pause)
    return True


def start_pool_process() -> None:
    """The pool's initializer, run first in each pool process."""
    # Ctrl-C reaches the whole process group; only the main process decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # A pool process holds both ends of its task queue, so a parent killed with SIGKILL
    # never closes it: watch the parent and leave with it instead of idling forever.
    parent = multiprocessing.parent_process()
    if parent is not None:
        threading.Thread(target=_exit_with, args=(parent.sentinel,), daemon=True).start()


def _exit_with(sentinel: int) -> None:
    multiprocessing.connection.wait([sentinel])
    os._exit(0)
