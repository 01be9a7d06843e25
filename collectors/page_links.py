"""A page's links, for the block detector (`collectors/blocks.py`): each anchor with the http(s)
URL its href resolves to, the page itself left out.

Most hrefs are resolved without urljoin (an absolute URL, a path from the root, a host without
a scheme, another scheme), which took a fifth of detection; a test holds every kind to what
`http_url(href, base)` gives (`tests/test_block_shortcuts.py`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from collectors.urls import http_url

if TYPE_CHECKING:
    from collectors.blocks import PageElements


def page_links(elements: PageElements, page_url: str, same_page: frozenset[str] = frozenset()
               ) -> list[tuple[Any, str]]:
    """Every anchor of the page outside scripts with the http(s) URL it points to (fragment
    dropped), the page itself (`page_url`, `same_page`) left out; each href resolved once."""
    # the first <base href> (the XPath `//base/@href`)
    base = next((str(href) for element in elements.bases
                 if (href := element.get("href")) is not None), page_url)
    base_url = http_url(base, page_url) or page_url
    base_parts = urlsplit(base_url)
    origin = f"{base_parts.scheme}://{base_parts.netloc}"  # what urljoin puts before a path
    page = page_url.split("#")[0]
    resolved: dict[str, str | None] = {}
    out: list[tuple[Any, str]] = []
    for anchor in elements.anchors:
        href = (anchor.get("href") or "").strip()
        if href not in resolved:
            # An absolute http(s) href resolves to itself unless it has dot segments or an
            # empty query or fragment, and a plain path from the root (`_plain_path`) to the
            # base's origin before it: they skip urljoin, where a fifth of detection went.
            direct = (href.startswith(("http://", "https://")) and "/." not in href
                      and "?#" not in href and not href.endswith(("?", "#")))
            url = (http_url(href) if direct else origin + href if _plain_path(href) else
                   http_url(f"{base_parts.scheme}:{href}") if _plain_host_path(href) else
                   None if not href or href.startswith("#") or _other_scheme(href) else
                   http_url(href, base_url))
            resolved[href] = url.split("#")[0] if url is not None else None
        url = resolved[href]
        if url is not None and url != page and url not in same_page:
            out.append((anchor, url))
    return out


# What urljoin changes in a path from the root: dot segments (`/./`, `/../`), empty segments
# (`//`, and a leading one names a host), parameters (`;`), white space (urlsplit drops tabs and
# line breaks) and an empty query or fragment (dropped with its `?` or `#`).
_UNPLAIN_PATH = re.compile(r"//|/\.|;|\s|\?#|[?#]$")


def _plain_path(href: str) -> bool:
    """Whether the href is a path from the root (`/a/b?c`) that urljoin would put after the
    base's scheme and host as it is."""
    return href.startswith("/") and not _UNPLAIN_PATH.search(href)


# What urljoin changes after the `//` of a host and path without a scheme: parameters, white
# space and an empty query or fragment, as in a path (dot segments stay, under a new host).
_UNPLAIN_HOST_PATH = re.compile(r";|\s|\?#|[?#]$")


def _plain_host_path(href: str) -> bool:
    """Whether the href is a host and path without a scheme (`//cdn.x.com/a`) that urljoin
    would put after the base's scheme as it is (with no host, `//` or `///a`, it keeps the
    base's)."""
    return (href.startswith("//") and href[2:3] not in ("", "/", "?", "#")
            and not _UNPLAIN_HOST_PATH.search(href))


# A scheme at the start of an href (`mailto:`, `javascript:`), as urlsplit reads one
_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:")


def _other_scheme(href: str) -> bool:
    """Whether the href names a scheme other than http(s): urljoin keeps it, so it is no web
    link (`http_url` would say None after joining and splitting it)."""
    scheme = _SCHEME.match(href)
    return scheme is not None and scheme.group().lower() not in ("http:", "https:")
