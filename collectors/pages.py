"""Article pages: decoded HTML → extracted article, canonical URL, Related-News links, feed links.

Extraction uses trafilatura; the rest reads the lxml tree directly. Everything here is
pure (HTML in, dataclasses out) so `cait inspect` and the collectors see the same thing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml import etree

from collectors.feeds import sane_date
from collectors.textutil import decode_body, title_text
from collectors.urls import de_amp_url, http_url, same_site
from common.text import count_cjk

MAX_LINKS_PER_BLOCK = 50
MAX_RELATED_LINKS = 100
MAX_HEADING_CHARS = 60

# Headings that introduce a block of links to other stories (English and Chinese).
RELATED_HEADINGS = re.compile(
    r"^\s*(related( news| coverage| articles?| stories| content| reading| posts| links)?"
    r"|more on this (story|topic)|more from .{1,30}|read more( on this)?|see also"
    r"|you (may|might) also (like|be interested in)|recommended( for you| reading)?"
    r"|further reading|also read|read next"
    r"|相关新闻|相關新聞|延伸阅读|延伸閱讀|相关阅读|相關閱讀|相关文章|相關文章|相关报道|相關報導"
    r"|推荐阅读|推薦閱讀|更多新闻|更多新聞)\s*[:：»›>]?\s*$",
    re.I,
)
RELATED_CLASS = re.compile(
    r"(^|[\s_-])(related|relatedposts|related-?news|related-?articles?|read-?more|see-?also"
    r"|more-?on|xgxw|xgwz|xgyd)([\s_-]|$)", re.I)
HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6", "strong", "b", "p", "div", "span", "dt",
                "header", "section", "li")
FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json",
              "application/json", "application/rdf+xml", "text/xml", "application/xml")
COMMON_FEED_PATHS = ("/feed", "/rss", "/feed.xml", "/rss.xml", "/atom.xml", "/index.xml",
                     "/feeds/posts/default", "/?feed=rss2")


@dataclass(frozen=True)
class RelatedLink:
    url: str
    anchor_text: str
    block: str        # the heading (or class/id) that marked the block
    position: int     # order on the page, from 0


@dataclass(frozen=True)
class ExtractedPage:
    url: str                       # the URL fetched
    canonical_url: str             # from <link rel=canonical> (same site), AMP undone
    title: str | None
    text: str | None
    author: str | None
    published_at: datetime | None
    language: str | None
    encoding: str
    related: list[RelatedLink] = field(default_factory=list)
    error: str | None = None


def parse_html(html: str) -> Any:
    """An lxml tree, or None for documents lxml cannot read."""
    try:
        return lxml.html.document_fromstring(html)
    except (etree.ParserError, ValueError):
        return None


def _text_of(element: Any) -> str:
    return " ".join(element.text_content().split())


def canonical_link(tree: Any, page_url: str) -> str:
    """The page's canonical URL: same-site `<link rel=canonical>`, else the page URL de-AMPed."""
    if tree is not None:
        for href in tree.xpath("//link[contains(concat(' ', normalize-space(@rel), ' '),"
                               " ' canonical ')]/@href"):
            candidate = http_url(str(href), page_url)
            page_host = urlsplit(page_url).hostname
            if candidate and page_host and same_site(urlsplit(candidate).hostname or "",
                                                     page_host):
                return candidate
    return de_amp_url(page_url)


def _language(tree: Any, metadata_language: str | None, text: str | None) -> str | None:
    if tree is not None:
        lang = tree.get("lang") or tree.get("xml:lang")
        if lang:
            return str(lang).split("-")[0].lower()[:8]
    if metadata_language:
        return metadata_language.split("-")[0].lower()[:8]
    if text:
        sample = text[:2000]
        cjk = count_cjk(sample)
        letters = sum(1 for ch in sample if ch.isalpha())
        if letters and cjk / letters > 0.3:
            return "zh"
    return None


def _usable_link(href: str, base_url: str) -> str | None:
    href = href.strip()
    if not href or href.startswith("#"):
        return None
    absolute = http_url(href, base_url)  # None for javascript:, mailto:, file:, data: …
    return absolute.split("#")[0] if absolute else None


def _links_in(elements: list[Any], base_url: str, page_url: str) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for element in elements:
        anchors = [element] if element.tag == "a" else element.iter("a")
        for a in anchors:
            url = _usable_link(a.get("href") or "", base_url)
            text = _text_of(a)
            if url and text and url != page_url:
                found.append((url, text[:500]))
            if len(found) >= MAX_LINKS_PER_BLOCK:
                return found
    return found


def _is_heading(element: Any) -> bool:
    if not isinstance(element.tag, str) or element.tag not in HEADING_TAGS:
        return False
    text = _text_of(element)
    return 0 < len(text) <= MAX_HEADING_CHARS and bool(RELATED_HEADINGS.match(text))


def _block_after_heading(heading: Any, base_url: str, page_url: str) -> list[tuple[str, str]]:
    """Links that follow a heading: its later siblings up to the next heading, climbing up to
    three levels when the heading sits alone in a wrapper."""
    node = heading
    for _level in range(3):
        siblings: list[Any] = []
        for sibling in node.itersiblings():
            if not isinstance(sibling.tag, str):
                continue
            if sibling.tag in ("h1", "h2", "h3", "h4", "h5", "h6") or _is_heading(sibling):
                break
            siblings.append(sibling)
        links = _links_in(siblings, base_url, page_url)
        if links:
            return links
        node = node.getparent()
        if node is None or node.tag in ("body", "html"):
            break
    return []


def find_related_links(tree: Any, page_url: str) -> list[RelatedLink]:
    """Links in the page's related-link blocks, in page order, each URL once."""
    if tree is None:
        return []
    base = str((tree.xpath("//base/@href") or [page_url])[0])
    base_url = http_url(base, page_url) or page_url
    blocks: list[tuple[str, list[tuple[str, str]]]] = []
    claimed: set[Any] = set()  # elements inside a heading already used (<h3><b>Related</b></h3>)
    for element in tree.iter(*HEADING_TAGS):
        if element not in claimed and _is_heading(element):
            claimed.update(element.iterdescendants())
            links = _block_after_heading(element, base_url, page_url)
            if links:
                blocks.append((_text_of(element), links))
    for element in tree.xpath("//*[@class or @id]"):
        marker = f"{element.get('class', '')} {element.get('id', '')}"
        if RELATED_CLASS.search(marker) and element.tag not in ("a", "link", "script", "body"):
            links = _links_in([element], base_url, page_url)
            if links:
                blocks.append((f"[{marker.strip()[:60]}]", links))
    related: list[RelatedLink] = []
    seen: set[str] = set()
    for label, links in blocks:
        for url, text in links:
            if url in seen:
                continue
            seen.add(url)
            related.append(RelatedLink(url, text, label, len(related)))
            if len(related) >= MAX_RELATED_LINKS:
                return related
    return related


def extract_page(body: bytes, url: str, content_type: str = "", *,
                 date_known: bool = False) -> ExtractedPage:
    """Decode and extract one article page; extraction failure is reported in `.error`.

    With `date_known` (the feed gave the publication date, which wins anyway) htmldate only
    reads the page's metadata: its extensive search loads dateparser's locales, seconds per
    process, and was a quarter of a full-text pass's extraction time (issue 18)."""
    html, encoding = decode_body(body, content_type)
    tree = parse_html(html)
    canonical = canonical_link(tree, url)
    related = find_related_links(tree, url)
    doc: Any = None
    try:
        doc = trafilatura.bare_extraction(
            html, url=url, with_metadata=True, include_comments=False, include_tables=False,
            date_extraction_params={"extensive_search": False} if date_known else None)
    except Exception as error:  # trafilatura raises many types on odd HTML
        failure: str | None = f"extraction failed: {type(error).__name__}: {error}"[:300]
    else:
        failure = None if doc is not None and doc.text else "no article text found"
    text: str | None = doc.text if doc is not None else None
    title = title_text((doc.title if doc is not None else None) or _title_tag(tree),
                       markup=False)
    published = None
    if doc is not None and doc.date:
        try:
            published = sane_date(datetime.fromisoformat(doc.date).replace(tzinfo=UTC))
        except ValueError:
            published = None
    return ExtractedPage(
        url=url, canonical_url=canonical, title=title, text=text,
        author=doc.author if doc is not None else None, published_at=published,
        language=_language(tree, getattr(doc, "language", None), text), encoding=encoding,
        related=related, error=failure,
    )


def _title_tag(tree: Any) -> str | None:
    if tree is None:
        return None
    titles = tree.xpath("//title/text()")
    return title_text(titles[0], markup=False) if titles else None


def discover_feed_links(body: bytes, page_url: str, content_type: str = "") -> list[str]:
    """Feed URLs a page advertises (`<link rel=alternate>`), then the common feed paths."""
    html, _ = decode_body(body, content_type)
    tree = parse_html(html)
    found: list[str] = []
    if tree is not None:
        for link in tree.xpath("//link[@href]"):
            rel = (link.get("rel") or "").lower().split()
            kind = (link.get("type") or "").lower().split(";")[0].strip()
            feed = http_url(link.get("href") or "", page_url)
            if "alternate" in rel and kind in FEED_TYPES and feed:
                found.append(feed)
    parts = urlsplit(page_url)
    root = f"{parts.scheme}://{parts.netloc}"
    found += [root + path for path in COMMON_FEED_PATHS]
    return list(dict.fromkeys(found))
