"""Article pages: decoded HTML → extracted article, canonical URL, Related-News links, feed links.

Extraction uses trafilatura; Related-News blocks are found by the learned block detector
(`collectors/block_model.py`); the rest reads the lxml tree directly. Everything here is
pure (HTML in, dataclasses out) so `cait inspect` and the collectors see the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import lxml.html
import trafilatura
from lxml import etree

from collectors.block_model import followed_blocks
from collectors.feeds import sane_date
from collectors.page_meta import canonical_hrefs
from collectors.textutil import decode_body, title_text
from collectors.urls import de_amp_url, http_url, same_site
from common.text import count_cjk

MAX_RELATED_LINKS = 100
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


def _html_parser() -> etree.HTMLParser:
    """lxml.html's parser, its element classes found in C. lxml.html looks each element's class
    up in Python (`HtmlElementClassLookup.lookup`) whenever lxml makes an element object, some
    900 times a page in Related-News detection; a namespace lookup with the same table (form,
    input, label, select, textarea) over the same defaults gives every node the same class.
    Shared like lxml.html's own `html_parser`."""
    lookup = etree.ElementNamespaceClassLookup(etree.ElementDefaultClassLookup(
        element=lxml.html.HtmlElement, comment=lxml.html.HtmlComment,
        pi=lxml.html.HtmlProcessingInstruction, entity=lxml.html.HtmlEntity))
    lookup.get_namespace(None).update(
        lxml.html.HtmlElementClassLookup._default_element_classes)
    parser = etree.HTMLParser()
    parser.set_element_class_lookup(lookup)
    return parser


_HTML_PARSER = _html_parser()


def parse_html(html: str) -> Any:
    """An lxml tree (lxml.html's element classes), or None for documents lxml cannot read."""
    try:
        return lxml.html.document_fromstring(html, parser=_HTML_PARSER)
    except (etree.ParserError, ValueError):
        return None


def _text_of(element: Any) -> str:
    return " ".join(element.text_content().split())


def canonical_link(tree: Any, page_url: str) -> str:
    """The page's canonical URL: same-site `<link rel=canonical>`, else the page URL de-AMPed."""
    page_host = urlsplit(page_url).hostname
    if tree is not None and page_host:
        for candidate in canonical_hrefs(tree.iter("link"), page_url):
            if same_site(urlsplit(candidate).hostname or "", page_host):
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


def find_related_links(tree: Any, page_url: str) -> list[RelatedLink]:
    """Links in the page's Related-News blocks (the learned detector,
    `collectors.block_model`), in page order, each URL once; popular lists and navigation
    are never among them.

    A link that is only an image (a card's picture) is kept too, with the text of a later
    link to the same URL when there is one, else none: it is one of the block's related
    articles, though with no anchor text the relevance gate never follows it
    (`collectors.follow`). On the labelled pages 77 of 2,045 related links have no text."""
    if tree is None:
        return []
    found: dict[str, tuple[str, str]] = {}  # URL → (anchor text, block), in page order
    for block in followed_blocks(tree, page_url):
        label = block.candidate.heading or f"[{block.candidate.markers[:60]}]"
        for url, text in block.candidate.links:
            known = found.get(url)
            if known is None and len(found) < MAX_RELATED_LINKS:
                found[url] = (text, label)
            elif known is not None and text and not known[0]:
                found[url] = (text, known[1])
    return [RelatedLink(url, text[:500], label, position)
            for position, (url, (text, label)) in enumerate(found.items())]


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
