"""What an article page says of itself in its head: its og:title, its keywords and tags, and
the URL it declares as its own (`<link rel=canonical>`, `og:url`), or, when it declares none,
the site its links name as its home.

Read by the block detector's page context (`collectors/block_features.py`) from the page's
elements (`collectors.blocks.PageElements`): the words a site picks its related lists by, and
the site its own links belong to when the page was fetched from elsewhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from collectors.blocks import PageElements
from collectors.page_links import page_links
from collectors.urls import host_and_path, http_url, same_site, site

# The meta elements that name a page's keywords and tags, and what separates them
_KEYWORD_METAS = frozenset({"keywords", "news_keywords", "article:tag"})
_KEYWORD_SPLIT = re.compile(r"[,，;；、|]")
# Each link text is searched for each keyword, so a hostile page's ten thousand keywords are
# cut (on the labelled pages at most 51, the longest of 110 characters).
MAX_KEYWORDS = 64
MAX_KEYWORD_CHARS = 120
# What separates the tokens of a `rel` attribute: ASCII white space only, as HTML says
_ASCII_SPACE = re.compile(r"[\t\n\f\r ]+")


def page_meta(elements: PageElements) -> tuple[str, tuple[str, ...]]:
    """The page's og:title, and its keywords and tags (lower-cased, two to `MAX_KEYWORD_CHARS`
    characters, the first `MAX_KEYWORDS` in page order): the words a site itself often picks
    its related lists by."""
    og_title: str | None = None
    keywords: dict[str, None] = {}  # a set that keeps page order
    for meta in elements.metas:
        content = meta.get("content")
        if content is None:
            continue
        if og_title is None and meta.get("property") == "og:title":
            og_title = content
        if (meta.get("name") or meta.get("property") or "").lower() in _KEYWORD_METAS:
            keywords.update((word, None) for part in _KEYWORD_SPLIT.split(content)
                            if 2 <= len(word := part.strip().lower()) <= MAX_KEYWORD_CHARS)
    return og_title or "", tuple(keywords)[:MAX_KEYWORDS]


def canonical_hrefs(link_tags: Iterable[Any], page_url: str) -> list[str]:
    """The http(s) URLs of the page's `<link rel=canonical>` elements, in page order: `rel`
    is a list of tokens split at ASCII white space and read without regard to case
    (`rel="Canonical"` counts, as it does for browsers), each href stripped and resolved
    against `page_url`; an empty href names no URL. The one reader of the canonical link: for
    storage (`pages.canonical_link`) and for the detector (`declared_elsewhere`)."""
    found = []
    for link in link_tags:
        href = (link.get("href") or "").strip()
        if href and "canonical" in _ASCII_SPACE.split((link.get("rel") or "").lower()):
            url = http_url(href, page_url)
            if url is not None:
                found.append(url)
    return found


def declared_elsewhere(elements: PageElements, page_url: str) -> str | None:
    """The http(s) URL the page declares as its own (its first `<link rel=canonical>` to an
    http(s) URL, else its `og:url`) when that is on another site than `page_url`, else None.

    A page fetched from a mirror, a cache or a test server keeps its links to its own site:
    they are the page's own site's links, not another's, for the detector. Only that: the
    page's canonical URL for storage stays a same-site one (`pages.canonical_link`), since a
    page may claim any URL."""
    declared = next(iter(canonical_hrefs(elements.link_tags, page_url)), None)
    if declared is None:
        declared = next((http_url(str(meta.get("content")).strip(), page_url)
                         for meta in elements.metas
                         if meta.get("property") == "og:url" and meta.get("content")), None)
    if declared is None:
        return None
    host = host_and_path(declared)[0]
    if not site(host) or same_site(host, host_and_path(page_url)[0]):
        return None
    return declared


# A page that declares no URL of its own is taken to be elsewhere's when it links to the host it
# was fetched from by no absolute href, and one other site holds at least this share of its
# links, written with that site's host (`linked_home`).
LINKED_HOME_SHARE = 0.3
LINKED_HOME_MIN_LINKS = 10


def linked_home(links: list[tuple[Any, str]], page_url: str) -> str | None:
    """The site a page that declares no URL of its own (`declared_elsewhere`) links to as its
    home, when it was fetched from elsewhere: the one site that at least `LINKED_HOME_SHARE` of
    its links (and `LINKED_HOME_MIN_LINKS`) name by an absolute href, while none names the host
    it was fetched from. A page saved from its site and served by a mirror or a test server
    keeps such links; a page at home writes its own host or relative paths. As `scheme://host/`
    of that site's most linked host (and scheme), else None."""
    fetched = host_and_path(page_url)[0]
    by_site: dict[str, dict[str, int]] = {}  # site → `scheme://host/` → links
    for anchor, url in links:
        href = (anchor.get("href") or "").lstrip()[:8].lower()
        if not href.startswith(("http://", "https://", "//")):
            continue
        host = host_and_path(url)[0]
        if same_site(host, fetched):
            return None
        if owner := site(host):
            origins = by_site.setdefault(owner, {})
            origin = f"{url[:url.index(':')]}://{host}/"
            origins[origin] = origins.get(origin, 0) + 1
    if not by_site:
        return None
    # the most linked site and origin, ties to the first name: the same answer on every run
    owner, origins = min(by_site.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    if sum(origins.values()) < max(LINKED_HOME_MIN_LINKS, LINKED_HOME_SHARE * len(links)):
        return None
    return min(origins, key=lambda origin: (-origins[origin], origin))


def home_elsewhere(elements: PageElements, page_url: str,
                   links: list[tuple[Any, str]] | None = None) -> tuple[str, str] | None:
    """The URL whose site the detector reads as the page's own when the page was fetched from
    elsewhere, and how it knows: `declared` (`declared_elsewhere`) or `linked` (`linked_home`,
    from `links`, the page's links, else read here); None when the page is at home. What
    `block_features.described` uses, and what `cait inspect` shows."""
    declared = declared_elsewhere(elements, page_url)
    if declared is not None:
        return declared, "declared"
    if links is None:  # the page's links, none left out: it declares no URL of its own
        links = page_links(elements, page_url)
    linked = linked_home(links, page_url)
    return (linked, "linked") if linked is not None else None


def same_page_urls(page_url: str, declared: str | None) -> frozenset[str]:
    """The URLs besides `page_url` that name the page itself when it was fetched from
    elsewhere (`declared_elsewhere`): the URL it declares, and that URL's path and query on
    the host it was fetched from, where its relative links to itself lead."""
    if declared is None:
        return frozenset()
    own = declared.split("#")[0]
    parts, fetched = urlsplit(own), urlsplit(page_url)
    here = f"{fetched.scheme}://{fetched.netloc}{parts.path or '/'}"
    return frozenset({own, f"{here}?{parts.query}" if parts.query else here})
