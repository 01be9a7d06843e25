"""Link blocks of an article page: every candidate container, its heading and its links.

A candidate is a DOM container holding two or more links to other pages, taken at the level
where its links spread over two or more children (the list, not each item; not the whole
page). Each carries its heading (an h-tag or plain text at its start, else the text just
before it), the text just before it in its own right, its class and id words and its links
(the page's links, each resolved once: `collectors/page_links.py`).
`collectors/block_features.py` describes each candidate for the block detector
(`collectors/block_model.py`), which decides the Related-News blocks;
`collectors.pages.find_related_links` follows them. The labelling tool
(`bench/blocks_tool.py`) lists these candidates.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import count
from typing import Any

from lxml import etree

from collectors.page_links import page_links

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
# The elements whose text, the first inside a block, is its heading (`_heading`)
HEADING_MARKS = (*HEADING_TAGS, "strong", "b", "dt", "caption", "legend")

_MARKER_SPLIT = re.compile(r"[\s_\-:.]+|(?<=[a-z])(?=[A-Z])")
# Drupal's class for a node promoted to the front page (`node-promoted`, `node--promoted`),
# on any teaser of such a node: not a promoted (sponsored) list
_DRUPAL_PROMOTED = re.compile(r"\bnode-+promoted\b")
_WORD = re.compile(r"\w+")
_LETTERS = re.compile(r"[^\W\d_]")
# The text nodes of an element that a reader sees (not those of scripts and styles)
_VISIBLE_TEXT = etree.XPath(
    ".//text()[not(ancestor::script or ancestor::style or ancestor::noscript)]")


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
    return tuple(w.lower() for w in _MARKER_SPLIT.split(_DRUPAL_PROMOTED.sub(" ", value)) if w)


def _markers(element: Any, known: dict[Any, str]) -> str:
    """The class and id words of the block, its parent and grandparent (elements all: a
    block is one, and so is the parent of any element). `known`: each element's own words,
    kept for the page, since blocks side by side share their parent and grandparent."""
    own: list[str] = []
    node = element
    for _level in range(3):
        if node is None:
            break
        words = known.get(node)
        if words is None:
            found: list[str] = []
            for value in (node.get("class"), node.get("id")):
                if value:  # most elements have neither
                    found += _marker_words(value)
            words = known[node] = " ".join(found)
        if words:
            own.append(words)
        node = node.getparent()
    return " ".join(own)


def _leading_text(element: Any, holders: set[Any]) -> str:
    """The text of the block's children before the first child that holds a link (one of
    `holders`, `_link_holders`): a heading written as a plain element
    (`<ul><div class=post-recommend>相关推荐</div><li>…`) rather than an h-tag. Text inside the
    first item (a kicker, a date) is not a heading."""
    parts = [element.text or ""]
    for child in element:
        if not isinstance(child.tag, str):
            continue
        if child.tag == "a" or child in holders:
            break
        if child.tag not in SCRIPT_TAGS:
            parts += _VISIBLE_TEXT(child)
        parts.append(child.tail or "")
        if sum(map(len, parts)) > MAX_HEADING_CHARS * 2:
            break
    return " ".join(" ".join(parts).split())


def _link_holders(elements: PageElements) -> set[Any]:
    """Every element with a link (an `a` with an href) inside it, those the XPath `.//a[@href]`
    finds something in: found once a page from the links up, each ancestor once, rather than
    by a walk through each element asked about."""
    holders: set[Any] = set()
    for anchor in elements.anchors:
        if anchor.get("href") is not None:
            ancestor = anchor.getparent()
            while ancestor is not None and ancestor not in holders:  # in: so are its ancestors
                holders.add(ancestor)
                ancestor = ancestor.getparent()
    return holders


@dataclass
class PageElements:
    """A page's elements, found in one walk over its tree: each one's position in page order,
    and those of the few tags detection reads, each kind in page order. Each kind had a walk
    over the whole tree of its own, eight a page: one walk for all took the page's links,
    candidates and context from 2.48 to 2.34 ms a page on the labelled pages."""

    order: dict[Any, int]               # element → position in document order
    anchors: list[Any] = field(default_factory=list)      # `a`
    bases: list[Any] = field(default_factory=list)        # `base`
    paragraphs: list[Any] = field(default_factory=list)   # `p`
    titles: list[Any] = field(default_factory=list)       # `title`
    metas: list[Any] = field(default_factory=list)        # `meta`
    link_tags: list[Any] = field(default_factory=list)    # `link` (rel=canonical and the like)
    skipped: list[Any] = field(default_factory=list)      # `SKIP_TAGS`
    marks: list[Any] = field(default_factory=list)        # `HEADING_MARKS`

    @classmethod
    def of(cls, tree: Any) -> PageElements:
        """`tree`: the page's root (what `pages.parse_html` gives)."""
        found = cls(dict(zip(tree.iter(), count())))  # each element with its position
        kinds = {"a": found.anchors, "base": found.bases, "p": found.paragraphs,
                 "title": found.titles, "meta": found.metas, "link": found.link_tags,
                 **dict.fromkeys(SKIP_TAGS, found.skipped),
                 **dict.fromkeys(HEADING_MARKS, found.marks)}
        for element in tree.iter(*kinds):  # each tag's list, in page order
            kinds[element.tag].append(element)
        return found


@dataclass
class _Marks:
    """The page's heading-like elements (`HEADING_MARKS`) in page order, found once a page:
    the first inside a block is then looked up, not sought by a walk through the block."""

    order: dict[Any, int]               # element → position in document order
    marks: list[Any]
    positions: list[int]                # of the marks, rising

    @classmethod
    def of(cls, elements: PageElements) -> _Marks:
        order, marks = elements.order, elements.marks
        return cls(order, marks, [order[mark] for mark in marks])

    def first_inside(self, element: Any) -> Any:
        """The first mark inside the element, or None: the first of the page's after the
        element's start, when the element is one of its ancestors (what a subtree holds comes
        right after its root in page order)."""
        at = self.order[element]
        following = bisect_right(self.positions, at)
        if following == len(self.marks):
            return None
        mark = self.marks[following]
        node = mark.getparent()
        while node is not None and self.order[node] > at:
            node = node.getparent()
        return mark if node is element else None


@dataclass
class _LinkSpans:
    """Which of the page's links (`candidates`' items, in page order) each element holds: a
    run of them, from its first to its last, since what a subtree holds comes together in page
    order. A link inside a skipped element (`SKIP_TAGS`: a form, a button) counts for the
    elements below that one only: the few elements above such an element read their run
    through that rule (`broken`). Found with two walks from the links up, each stopping at an
    element already seen, rather than a list of links grown at every ancestor of every link."""

    first: dict[Any, int]               # element → index of its first link
    last: dict[Any, int]                # element → index of its last link
    first_child: dict[Any, Any]         # element → its child that holds its first link
    order: dict[Any, int]               # element → position in document order
    blocked: list[int]                  # per link: position of the skipped element it is in
    broken: set[Any]                    # the ancestors of skipped elements that hold links

    @classmethod
    def of(cls, anchors: list[Any], skipped: set[Any], order: dict[Any, int]) -> _LinkSpans:
        """`anchors`: each link's anchor, in page order; `skipped`: the elements of
        `SKIP_TAGS`."""
        first: dict[Any, int] = {}
        first_child: dict[Any, Any] = {}
        for index, anchor in enumerate(anchors):
            child = anchor
            for ancestor in anchor.iterancestors():
                # an element seen before has its ancestors seen too (up to a skipped one)
                if ancestor in first or ancestor in skipped:
                    break
                first[ancestor] = index
                first_child[ancestor] = child
                child = ancestor
        last: dict[Any, int] = {}
        for index in range(len(anchors) - 1, -1, -1):
            for ancestor in anchors[index].iterancestors():
                if ancestor in last or ancestor in skipped:
                    break
                last[ancestor] = index
        # each anchor inside a skipped element with the innermost such element (page order:
        # an inner one comes after the one around it)
        inside: dict[Any, Any] = {}
        for element in sorted(skipped, key=order.__getitem__):
            for anchor in element.iter("a"):
                inside[anchor] = element
        blockers = {inside[anchor] for anchor in anchors if anchor in inside}
        broken = {ancestor for blocker in blockers for ancestor in blocker.iterancestors()}
        blocked = ([order[inside[anchor]] if anchor in inside else -1 for anchor in anchors]
                   if blockers else [])
        return cls(first, last, first_child, order, blocked, broken)

    def count(self, element: Any) -> int:
        """How many links the element holds."""
        first = self.first.get(element)
        if first is None:
            return 0
        if element in self.broken:
            return len(self._indices(element))
        return self.last[element] - first + 1

    def links(self, element: Any, items: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """The links the element holds, in page order (`items`: the page's links)."""
        if element in self.broken:
            return [items[index] for index in self._indices(element)]
        return items[self.first[element]:self.last[element] + 1]

    def _indices(self, element: Any) -> list[int]:
        """The indices of the links of its run that count for it: those not inside a skipped
        element that it holds."""
        at = self.order[element]
        return [index for index in range(self.first[element], self.last[element] + 1)
                if self.blocked[index] < at]


def tab_labels(anchors: list[Any]) -> dict[str, str]:
    """The label of each tab of the page, by the id of the pane it shows: the text of an
    in-page link to it (`<a href="#related-1">You might also like</a>`, or its
    `data-target`, `aria-controls`). A pane's list has no heading of its own: the tab over it
    names it ("Related", "More from author", "Most read")."""
    labels: dict[str, str] = {}
    for anchor in anchors:
        targets = [value[1:] for value in (anchor.get("href"), anchor.get("data-target"),
                                           anchor.get("data-bs-target"))
                   if value and len(value) > 1 and value[0] == "#"]
        if controls := anchor.get("aria-controls"):
            targets.append(controls)
        for target in targets:
            if target not in labels:
                text = _text(anchor)
                if text and len(text) <= MAX_HEADING_CHARS:
                    labels[target] = text
    return labels


def _tab_label(element: Any, labels: dict[str, str]) -> str:
    """The label of the tab whose pane is the element or one of its three nearest ancestors."""
    node = element
    for _level in range(4):
        if node is None:
            break
        pane = node.get("id")
        if pane and pane in labels:
            return labels[pane]
        node = node.getparent()
    return ""


def _heading(element: Any, before: str, holders: set[Any], marks: _Marks) -> str:
    """The heading inside the block's start, or the one just before it (`before`)."""
    leading = _leading_text(element, holders)
    if 0 < len(leading) <= MAX_LEADING_HEADING_CHARS and len(_LETTERS.findall(leading)) >= 2:
        return leading
    child = marks.first_inside(element)
    if child is not None:
        text = _text(child)
        if (text and len(text) <= MAX_HEADING_CHARS
                and next(child.iterancestors("a"), None) is None):
            return text
    for attribute in ("aria-label", "title", "data-title"):
        if element.get(attribute):
            return " ".join(str(element.get(attribute)).split())[:MAX_HEADING_CHARS]
    return before


def _heading_text(element: Any) -> str:
    """`_text(element)` if it is no longer than a heading, else "". What stands before a block
    is often the whole article: only its start is split to learn that (normalising a text's
    start gives the start of the whole text normalised)."""
    if not len(element):
        raw = element.text or ""
    elif next(element.iter(*SCRIPT_TAGS), None) is None:
        raw = element.text_content()
    else:  # a script's or a style's text is code, not a heading
        raw = "".join(_VISIBLE_TEXT(element))
    text = " ".join(raw[:MAX_HEADING_CHARS * 4].split())
    if len(text) > MAX_HEADING_CHARS:
        return ""
    if len(raw) > MAX_HEADING_CHARS * 4:
        text = " ".join(raw.split())
    return text if len(text) <= MAX_HEADING_CHARS else ""


def _heading_before(element: Any, holders: set[Any]) -> str:
    """The heading just before the block: the text of the element before it (or before its
    parent, up to three levels; not a comment, script or style) if it holds no link."""
    node = element
    for _level in range(3):
        previous = node.getprevious()
        while previous is not None and (not isinstance(previous.tag, str)
                                        or previous.tag in SCRIPT_TAGS):
            previous = previous.getprevious()
        if previous is not None:
            return "" if previous in holders else _heading_text(previous)
        node = node.getparent()
        if node is None:
            break
    return ""


def candidates(tree: Any, page_url: str, links: list[tuple[Any, str]] | None = None,
               elements: PageElements | None = None) -> list[Candidate]:
    """Every container of two or more links to other pages, in page order. `tree` is the
    page's root (what `pages.parse_html` gives), `elements` its elements (`PageElements.of`)
    and `links` its links (`page_links`), found again if not given."""
    if tree is None:
        return []
    elements = PageElements.of(tree) if elements is None else elements
    order = elements.order
    # The elements of the skipped tags, and the anchors inside scripts, styles and noscript
    # blocks (no candidate holds them), each found once: a set lookup per ancestor rather
    # than reading its tag, and none per anchor up to the root.
    skipped = set(elements.skipped)
    scripted = {anchor for element in skipped if element.tag in SCRIPT_TAGS
                for anchor in element.iter("a")}
    items: list[tuple[str, str]] = []   # the page's links outside scripts, in page order
    anchors: list[Any] = []             # the anchor of each
    for anchor, url in page_links(elements, page_url) if links is None else links:
        if anchor not in scripted:
            items.append((url, _text(anchor)[:300]))
            anchors.append(anchor)
    spans = _LinkSpans.of(anchors, skipped, order)
    found: list[Candidate] = []
    seen_sets: dict[frozenset[str], Candidate] = {}
    holders: set[Any] | None = None  # `_link_holders`, found with the first candidate
    marked: dict[Any, str] = {}  # `_markers`' words of each element
    marks: _Marks | None = None  # and the heading-like elements
    tabs: dict[str, str] | None = None  # the in-page tabs' labels, read at the first need
    containers = [e for e in spans.first if e.tag in CONTAINER_TAGS]
    # the last in page order first: an element before those around it
    for element in sorted(containers, key=order.__getitem__, reverse=True):
        held = spans.count(element)
        # the level where links spread: no single child holds them all (and so two or more)
        if held < 2 or spans.count(spans.first_child[element]) == held:
            continue
        links = spans.links(element, items)
        urls = frozenset([u for u, _ in links])
        if len(urls) < 2 or urls in seen_sets:
            continue
        if holders is None or marks is None:
            holders, marks = _link_holders(elements), _Marks.of(elements)
        before = _heading_before(element, holders)
        # distinct URLs: each its own text, the first ones kept (`_unique` without reading)
        kept = (links[:MAX_LINKS_PER_BLOCK] if len(urls) == len(links) else
                _unique(links, MAX_LINKS_PER_BLOCK))
        heading = _heading(element, before, holders, marks)
        if not heading:  # most pages' candidates all have one: tabs are read only if not
            tabs = tab_labels(elements.anchors) if tabs is None else tabs
            heading = _tab_label(element, tabs)
        candidate = Candidate(0, element.tag, heading, _markers(element, marked), kept,
                              element, before)
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
