"""Site-wide lists: a followed block that another page of the same site already showed.

The block detector (`collectors/block_model.py`) judges one page at a time, and a list of the
site's latest or most-read stories can look exactly like a related list there. Across pages the
difference shows: a related list is chosen for each article, a site-wide list is the same on
every page. When an article's related links are stored (`collectors.store.store_links`), each
block of at least `MIN_LINKS` links is compared with the blocks stored from the site's other
articles; one that is the same list (`same_list`) is stored as skipped, never followed. The
links were already stored, and followed, from the page that showed the list first.
`bench/related_bench.py` measures the rule with each labelled page's same-site pages as history.
"""

from __future__ import annotations

import math
from collections.abc import Collection

MIN_LINKS = 3
# The share of links two blocks have in common (Jaccard index) for them to be one list. Related
# lists of two articles of one story differ at least in those two articles: five links each
# with four shared give 4/6, below the bar.
MIN_JACCARD = 0.8
SKIP_REASON = "site-wide list: also on article {}"


def same_list(block: Collection[str], other: Collection[str]) -> bool:
    """Whether two blocks' link sets are one list (`MIN_JACCARD`), for blocks of `MIN_LINKS`
    links or more."""
    if len(block) < MIN_LINKS:
        return False
    shared = len(set(block) & set(other))
    return shared / (len(block) + len(other) - shared) >= MIN_JACCARD


def min_shared(size: int) -> int:
    """The fewest shared links a block of `size` links can have with a list it is one with:
    Jaccard ≥ MIN_JACCARD needs at least MIN_JACCARD × size of its own links shared."""
    return max(1, math.ceil(size * MIN_JACCARD - 1e-9))
