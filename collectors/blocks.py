"""Link blocks of an article page: every candidate container, and what describes it.

A candidate is a DOM container holding two or more links to other pages, taken at the level
where its links spread over two or more children (the list, not each item; not the whole
page). `features` describes a candidate for the block detector (`collectors/block_model.py`
learns from labelled pages which candidates are Related-News blocks): its heading (an h-tag or
plain text at its start, else the text just before it), the text just before it in its own
right, class and id words, how its links and their texts look, where it stands against the
article body, and its sibling structure. The heading rules of old are features here, not gates.

`collectors.pages.find_related_links` follows the blocks the detector chooses; the labelling
tool and the bench (`bench/related_bench.py`) use this module too.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Any
from urllib.parse import urlsplit

from lxml import etree

from collectors.urls import host_and_path, http_url, same_site
from common.text import CJK

MAX_CANDIDATES = 400
MAX_LINKS_PER_BLOCK = 60
MAX_HEADING_CHARS = 80
MAX_LEADING_HEADING_CHARS = 40   # longer text before a block's first link is not its heading
SKIP_TAGS = frozenset({"script", "style", "noscript", "template", "svg", "head", "select",
                       "form", "button", "iframe"})
SCRIPT_TAGS = frozenset({"script", "style", "noscript"})
CONTAINER_TAGS = frozenset({"ul", "ol", "div", "section", "aside", "nav", "footer", "header",
                            "table", "tbody", "dl", "p", "article", "span", "td", "main",
                            "figure", "li"})
HEADING_TAGS = ("h1", "h2", "h3", "h4", "h5", "h6")

# Headings that introduce related coverage, most-read lists, and navigation: English, Chinese
# and the other languages of the labelled pages (Spanish, Portuguese, French, German, Italian,
# Dutch, Japanese, Korean, Thai, Russian). Features of the detector, not gates.
RELATED_WORDS = re.compile(
    r"related|more on|more from|more about|read more|see also|also read|read next|recommended"
    r"|you (may|might) (also )?like|further reading|more stories|more news|keep reading|up next"
    r"|relacionad|también en|tambien en|lea también|lee también|leia também|más noticias"
    r"|lire aussi|à lire|sur le même sujet|dans la même rubrique|mehr zum thema|mehr aus"
    r"|auch interessant|weitere artikel|leggi anche|correlat|potrebbe interessarti|lees ook"
    r"|gerelateerd|читайте также|по теме|関連|あわせて読みたい|관련|เกี่ยวข้อง"
    r"|相关|相關|延伸|推荐|推薦|更多|猜你喜欢|热点推荐|最新文章", re.I)
POPULAR_WORDS = re.compile(
    r"most (read|popular|viewed|shared|emailed|commented)|popular|trending|top stories"
    r"|editor'?s picks|latest (news|stories)|breaking|más leíd|más vist|lo más|meistgelesen"
    r"|les plus lus|più lett|mais lid|人気|많이 본|인기|热门|熱門|排行|最热|最熱|热点"
    r"|要闻|头条|精彩|点击排行|點擊排行|点击榜", re.I)
# (not 点击 alone: "您有未读新闻，点击查看", "click to see the unread news", heads related feeds)
NAV_WORDS = re.compile(r"menu|nav|navigation|breadcrumb|footer|header|topics|sections|tags?\b"
                       r"|share|social|follow us|subscribe|newsletter|login|sign in|导航|導航"
                       r"|频道|頻道|登录|登錄|分享", re.I)
# A heading that is nothing but "Related News" and its kin (the rule of the first release, a
# feature now): far more precise than a related word anywhere in a heading.
RELATED_HEADING_EXACT = re.compile(
    r"^\s*(related( news| coverage| articles?| stories| content| reading| posts| links)?"
    r"|more on this (story|topic)|more from .{1,30}|read more( on this)?|see also"
    r"|you (may|might) also (like|be interested in)|recommended( for you| reading)?"
    r"|further reading|also read|read next|relacionad[oa]s?|lire aussi|leggi anche"
    r"|mehr zum thema|相关新闻|相關新聞|延伸阅读|延伸閱讀|相关阅读|相關閱讀|相关文章|相關文章"
    r"|相关报道|相關報導|推荐阅读|推薦閱讀|更多新闻|更多新聞)\s*[:：»›>]?\s*$", re.I)
_MARKER_SPLIT = re.compile(r"[\s_\-:.]+|(?<=[a-z])(?=[A-Z])")
_WORD = re.compile(r"\w+")
_CJK_RUN = re.compile(f"{CJK.pattern}{{2,}}")
_LETTERS = re.compile(r"[^\W\d_]")
# The length of an element's text with runs of white space as one: `_text`, computed in libxml2
_TEXT_LENGTH = etree.XPath("string-length(normalize-space(.))")
# The text nodes of an element that a reader sees (not those of scripts and styles)
_VISIBLE_TEXT = etree.XPath(
    ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]")
# Paths that look like one article: a date, a long number, .html, or a slug of three words.
_ARTICLE_PATH = re.compile(
    r"(/\d{4}/\d{1,2}/)|(\d{5,})|(\.s?html?$)|([a-z0-9]+-[a-z0-9]+-[a-z0-9]+)", re.I)


@dataclass
class Candidate:
    """A container of links on a page, with what the detector looks at."""

    index: int                           # order on the page
    tag: str
    heading: str                         # the text that introduces it, if any
    markers: str                         # class and id words of it and two ancestors
    links: list[tuple[str, str]] = field(default_factory=list)   # (url, anchor text)
    element: Any = None
    heading_before: str = ""             # the text just before the block (`_heading_before`)

    @cached_property
    def path(self) -> str:
        """The block's XPath, to find it again: made when asked (labels, `cait inspect`),
        since collection never needs it."""
        return str(self.element.getroottree().getpath(self.element))


def _text(element: Any) -> str:
    """The element's text, runs of white space as one. Most links hold nothing but their text:
    that is read directly, without text_content's XPath evaluation."""
    raw = element.text_content() if len(element) else element.text or ""
    return " ".join(raw.split())


@lru_cache(maxsize=4096)
def _marker_words(value: str) -> tuple[str, ...]:
    """The lower-cased words of a class or id attribute (the same few recur on every page)."""
    return tuple(w.lower() for w in _MARKER_SPLIT.split(value) if w)


def _markers(element: Any) -> str:
    words: list[str] = []
    node = element
    for _level in range(3):
        if node is None or not isinstance(node.tag, str):
            break
        for value in (node.get("class"), node.get("id")):
            if value:  # most elements have neither
                words += _marker_words(value)
        node = node.getparent()
    return " ".join(words)


def _leading_text(element: Any) -> str:
    """The text of the block's children before the first child that holds a link: a heading
    written as a plain element (`<ul><div class=post-recommend>相关推荐</div><li>…`) rather
    than an h-tag. Text inside the first item (a kicker, a date) is not a heading."""
    parts = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag == "a" or _holds_link(child):
            break
        if child.tag not in SCRIPT_TAGS:
            parts += _VISIBLE_TEXT(child)
        parts.append(child.tail or "")
        if sum(map(len, parts)) > MAX_HEADING_CHARS * 2:
            break
    return " ".join(" ".join(parts).split())


def _holds_link(element: Any) -> bool:
    """Whether a link (an `a` with an href) is inside the element: the XPath `.//a[@href]`,
    without its cost per call."""
    return any(anchor.get("href") is not None for anchor in element.iterdescendants("a"))


def _heading(element: Any, before: str) -> str:
    """The heading inside the block's start, or the one just before it (`before`)."""
    leading = _leading_text(element)
    if 0 < len(leading) <= MAX_LEADING_HEADING_CHARS and len(_LETTERS.findall(leading)) >= 2:
        return leading
    for child in element.iterdescendants(*HEADING_TAGS, "strong", "b", "dt", "caption",
                                         "legend"):
        text = _text(child)
        if (text and len(text) <= MAX_HEADING_CHARS
                and next(child.iterancestors("a"), None) is None):
            return text
        break
    for attribute in ("aria-label", "title", "data-title"):
        if element.get(attribute):
            return " ".join(str(element.get(attribute)).split())[:MAX_HEADING_CHARS]
    return before


def _heading_text(element: Any) -> str:
    """`_text(element)` if it is no longer than a heading, else "". What stands before a block
    is often the whole article: its text is not split whole to learn that, since the start
    of a text, normalised, is the start of the whole text normalised."""
    raw = element.text_content() if len(element) else element.text or ""
    text = " ".join(raw[:MAX_HEADING_CHARS * 4].split())
    if len(text) > MAX_HEADING_CHARS:
        return ""
    if len(raw) > MAX_HEADING_CHARS * 4:
        text = " ".join(raw.split())
    return text if len(text) <= MAX_HEADING_CHARS else ""


def _heading_before(element: Any) -> str:
    """The heading just before the block: the text of the element before it (or before its
    parent, up to three levels), when that holds no link."""
    node = element
    for _level in range(3):
        previous = node.getprevious()
        while previous is not None and not isinstance(previous.tag, str):
            previous = previous.getprevious()
        if previous is not None:
            text = _heading_text(previous)
            if text and not _holds_link(previous):
                return text
            return ""
        node = node.getparent()
        if node is None:
            break
    return ""


def page_links(tree: Any, page_url: str) -> list[tuple[Any, str]]:
    """Every anchor of the page outside scripts with the http(s) URL it points to (fragment
    dropped), the page itself left out; each distinct href is resolved once."""
    base = str((tree.xpath("//base/@href") or [page_url])[0])
    base_url = http_url(base, page_url) or page_url
    base_parts = urlsplit(base_url)
    origin = f"{base_parts.scheme}://{base_parts.netloc}"  # what urljoin puts before a path
    page = page_url.split("#")[0]
    resolved: dict[str, str | None] = {}
    out: list[tuple[Any, str]] = []
    for anchor in tree.iter("a"):
        href = (anchor.get("href") or "").strip()
        if href not in resolved:
            # An absolute http(s) href resolves to itself unless it has dot segments or an
            # empty query or fragment, and a plain path from the root (`_plain_path`) to the
            # base's origin before it: they skip urljoin, where a fifth of detection went.
            direct = (href.startswith(("http://", "https://")) and "/." not in href
                      and "?#" not in href and not href.endswith(("?", "#")))
            url = (http_url(href) if direct else origin + href if _plain_path(href) else
                   http_url(href, base_url) if href and not href.startswith("#") else None)
            resolved[href] = url.split("#")[0] if url is not None else None
        url = resolved[href]
        if url is not None and url != page:
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


def element_order(tree: Any) -> dict[Any, int]:
    """Each element's position in document order."""
    return {element: position for position, element in enumerate(tree.iter())}


def candidates(tree: Any, page_url: str, links: list[tuple[Any, str]] | None = None,
               order: dict[Any, int] | None = None) -> list[Candidate]:
    """Every container of two or more links to other pages, in page order."""
    if tree is None:
        return []
    links_of: defaultdict[Any, list[tuple[str, str]]] = defaultdict(list)
    order = element_order(tree) if order is None else order
    for anchor, url in page_links(tree, page_url) if links is None else links:
        if next(anchor.iterancestors(*SCRIPT_TAGS), None) is not None:
            continue  # no candidate holds the anchors of scripts, styles and noscript blocks
        item = (url, _text(anchor)[:300])
        for ancestor in anchor.iterancestors():
            if ancestor.tag in SKIP_TAGS:
                break
            links_of[ancestor].append(item)
    found: list[Candidate] = []
    seen_sets: dict[frozenset[str], Candidate] = {}
    containers = [e for e in links_of if e.tag in CONTAINER_TAGS]
    for element in sorted(containers, key=lambda e: -order.get(e, 0)):  # deepest last-first
        links = links_of[element]
        urls = frozenset([u for u, _ in links])
        if len(urls) < 2:
            continue
        # the level where links spread: no single child holds them all
        if any(len(links_of.get(child, ())) == len(links) for child in element):
            continue
        if urls in seen_sets:
            continue
        before = _heading_before(element)
        candidate = Candidate(0, element.tag, _heading(element, before), _markers(element),
                              _unique(links, MAX_LINKS_PER_BLOCK), element, before)
        seen_sets[urls] = candidate
        found.append(candidate)
    found.sort(key=lambda c: order.get(c.element, 0))
    found = found[:MAX_CANDIDATES]
    for index, candidate in enumerate(found):
        candidate.index = index
    return found


def _unique(links: list[tuple[str, str]], limit: int) -> list[tuple[str, str]]:
    """The first `limit` distinct URLs, each with its first non-empty text ("" if none). A
    wrapper holds hundreds of links: reading stops once the kept URLs all have a text."""
    seen: dict[str, str] = {}
    untitled = 0  # kept URLs still without a text
    for url, text in links:
        if url not in seen:
            if len(seen) == limit:
                if not untitled:
                    break
                continue
            seen[url] = text
            untitled += not text
        elif text and not seen[url]:
            seen[url] = text
            untitled -= 1
    return list(seen.items())


BODY_TAGS = frozenset({"div", "article", "section", "main", "td"})


def body_element(tree: Any, order: dict[Any, int]) -> Any:
    """The element that holds the most paragraph text: where the article body is (the first
    in page order of those that hold the most)."""
    lengths: dict[Any, int] = {}
    for paragraph in tree.iter("p"):  # one pass over the paragraphs, not each box's children
        parent = paragraph.getparent()
        if parent is not None and parent.tag in BODY_TAGS:
            lengths[parent] = lengths.get(parent, 0) + len(paragraph.text_content())
    most = max(lengths.values(), default=0)
    if not most:
        return None
    return min((e for e, length in lengths.items() if length == most), key=order.__getitem__)


@dataclass
class PageContext:
    """What the features of every candidate on one page compare against."""

    url: str
    order: dict[Any, int]                 # element → position in document order
    body: Any                             # the element holding the article's paragraphs
    body_end: int                         # position of the body's last element
    title_words: frozenset[str]           # words of the page title (Chinese: character pairs)
    link_counts: dict[str, int]           # how often each URL is linked on the page
    candidates_in: dict[Any, int]         # element → how many other candidates it holds
    host: str                             # the page's host name
    section: str                          # the first segment of the page's path
    body_start: int = 0                   # position of the body itself
    link_facts: dict[tuple[str, str], tuple[bool, bool, bool, float, int, bool]] = field(
        default_factory=dict)   # (URL, text) → `_link_facts`
    url_facts: dict[str, tuple[bool, bool, bool]] = field(
        default_factory=dict)   # URL → its part of `_link_facts`


@lru_cache(maxsize=8192)
def _title_words(text: str) -> frozenset[str]:
    """Latin words of three letters or more, and Chinese character pairs: enough to see that
    a headline shares the story of the page's title, in either script."""
    lowered = text.lower()
    if lowered.isascii():  # no Chinese to set apart
        return frozenset(w for w in _WORD.findall(lowered) if len(w) > 2)
    latin = {w for w in _WORD.findall(CJK.sub(" ", lowered)) if len(w) > 2}
    pairs = {run[i:i + 2] for run in _CJK_RUN.findall(lowered) for i in range(len(run) - 1)}
    return frozenset(latin | pairs)


SAYS_PATTERNS = (RELATED_WORDS, POPULAR_WORDS, NAV_WORDS)
# The same patterns, case-sensitive, for ASCII text lower-cased: they find the same there (their
# letters are all lower-case and none of their other characters folds to an ASCII one, which
# a test holds), and without re.I the regex engine skips to the possible first letters instead
# of trying each word at each character: a fifth of the time on the labelled pages.
_SAYS_LOWER_CASE = tuple(re.compile(pattern.pattern) for pattern in SAYS_PATTERNS)


@lru_cache(maxsize=8192)
def _says(text: str) -> tuple[float, float, float]:
    """Whether a heading or the class words speak of related, popular or navigation links."""
    if text.isascii():  # nine texts in ten
        lowered = text.lower()
        related, popular, nav = (pattern.search(lowered) for pattern in _SAYS_LOWER_CASE)
    else:
        related, popular, nav = (pattern.search(text) for pattern in SAYS_PATTERNS)
    return float(bool(related)), float(bool(popular)), float(bool(nav))


def _heading_words(heading: str) -> set[str]:
    """A heading's first eight words, lower-cased (a run of Chinese characters is one word:
    splitting it into character pairs cost F1 on the labelled pages, 0.609 against 0.633)."""
    return set(_WORD.findall(heading.lower())[:8])


def _headline_words(text: str) -> float:
    """Words in a link text, a Chinese character counting as half a word."""
    if text.isascii():  # no Chinese to set apart
        return float(len(_WORD.findall(text)))
    return len(_WORD.findall(CJK.sub(" ", text))) + len(CJK.findall(text)) / 2


def _last_descendant(element: Any) -> Any:
    """The element's last descendant in page order (itself if it has none): the one of its
    subtree with the highest position."""
    while len(element):
        element = element[-1]
    return element


def page_context(tree: Any, page_url: str, found: list[Candidate],
                 links: list[tuple[Any, str]], order: dict[Any, int]) -> PageContext:
    body = body_element(tree, order)
    body_end = order[_last_descendant(body)] if body is not None else 0
    title = " ".join(" ".join(tree.xpath("//title//text()")).split())[:300]
    og_title = tree.xpath("//meta[@property='og:title']/@content")
    link_counts: dict[str, int] = {}
    for _, url in links:
        link_counts[url] = link_counts.get(url, 0) + 1
    own = urlsplit(page_url)
    elements = {c.element for c in found}
    holds: dict[Any, int] = {}
    for candidate in found:
        for ancestor in candidate.element.iterancestors():
            if ancestor in elements:
                holds[ancestor] = holds.get(ancestor, 0) + 1
    return PageContext(page_url, order, body, body_end,
                       _title_words(f"{title} {og_title[0] if og_title else ''}"), link_counts,
                       holds, own.hostname or "", own.path.strip("/").split("/")[0],
                       order[body] if body is not None else 0)


def _link_facts(page: PageContext, link: tuple[str, str]
                ) -> tuple[bool, bool, bool, float, int, bool]:
    """Of one link (URL, text), once per page (`PageContext.link_facts` keeps them): same site
    as the page, article-like path, same section, headline words of its text, words its text
    shares with the page's title, and whether its URL is linked more than once on the page."""
    url, text = link
    of_url = page.url_facts.get(url)
    if of_url is None:
        host, path = host_and_path(url)
        of_url = page.url_facts[url] = (
            same_site(host, page.host), bool(_ARTICLE_PATH.search(path)),
            bool(page.section) and path.strip("/").split("/")[0] == page.section)
    facts = page.link_facts[link] = (
        *of_url, _headline_words(text), len(_title_words(text) & page.title_words),
        page.link_counts.get(url, 0) > 1)
    return facts


def features(candidate: Candidate, page: PageContext) -> dict[str, float]:
    """What the detector sees of one candidate: numbers and words (heading, markers)."""
    element, order, body = candidate.element, page.order, page.body
    n = len(candidate.links)
    # the facts of its links (`_link_facts`), column by column; a candidate has two or more
    known = page.link_facts  # a link stands in every block around it: its facts are kept
    same, articles, sections, words, overlaps, repeated = zip(
        *[known.get(link) or _link_facts(page, link) for link in candidate.links], strict=True)
    total_text = int(_TEXT_LENGTH(element)) or 1
    link_text = sum(len(text) for _, text in candidate.links)
    child_tags = [child.tag for child in element.iterchildren(etree.Element)]
    at = order.get(element, 0)
    out: dict[str, float] = {
        "links": min(n, 60) / 60, "links_log": float(len(str(n))),
        "anchor_words_mean": min(sum(words) / len(words), 30) / 30,
        "headline_like": sum(w >= 5 for w in words) / len(words),
        "one_word": sum(w <= 1 for w in words) / len(words),
        "same_site": sum(same) / n, "article_like": sum(articles) / n,
        "same_section": sum(sections) / n if page.section else 0.0,
        "title_overlap": min(sum(overlaps) / n, 5) / 5,
        "shares_title_word": (n - overlaps.count(0)) / n,
        "repeated_on_page": sum(repeated) / n,
        "holds_candidates": min(page.candidates_in.get(element, 0), 10) / 10,
        "link_density": min(1.0, link_text / total_text),
        "position": at / max(1, len(order)), "after_body": 0.0, "inside_body": 0.0,
        "just_after_body": 0.0, "after_body_distance": 0.0,
        "depth": min(sum(1 for _ in element.iterancestors()), 30) / 30,
        "children": min(len(child_tags), 30) / 30,
        "uniform_children": (max(child_tags.count(t) for t in set(child_tags)) / len(child_tags)
                             if child_tags else 0.0),
        "heading_none": float(not candidate.heading),
        "heading_exact_related": float(bool(RELATED_HEADING_EXACT.match(candidate.heading))),
        f"tag={candidate.tag}": 1.0,
    }
    for name, value in (("heading", candidate.heading), ("marker", candidate.markers)):
        related, popular, nav = _says(value)
        out[f"{name}_related"], out[f"{name}_popular"], out[f"{name}_nav"] = related, popular, nav
    for ancestor in element.iterancestors("nav", "footer", "header", "aside"):
        out[f"in_{ancestor.tag}"] = 1.0
    if body is not None:
        if page.body_start <= at <= page.body_end:  # a subtree is a run of positions
            out["inside_body"] = 1.0
        elif at > page.body_end:
            out["after_body"] = 1.0
            out["after_body_distance"] = min(1.0, (at - page.body_end) / 2000)
            out["just_after_body"] = float(at - page.body_end < 300)
    for word in _heading_words(candidate.heading):
        out[f"h={word}"] = 1.0
    before = candidate.heading_before
    if before and before != candidate.heading:
        for word in _heading_words(before):
            out[f"b={word}"] = 1.0
        related, popular, nav = _says(before)
        out["before_related"], out["before_popular"], out["before_nav"] = related, popular, nav
    for word in set(candidate.markers.split()[:12]):
        out[f"m={word}"] = 1.0
    return out


def described(tree: Any, page_url: str) -> list[tuple[Candidate, dict[str, float]]]:
    """Every candidate of a page with its features."""
    if tree is None:
        return []
    links, order = page_links(tree, page_url), element_order(tree)
    found = candidates(tree, page_url, links, order)
    if not found:
        return []
    page = page_context(tree, page_url, found, links, order)
    return [(c, features(c, page)) for c in found]
