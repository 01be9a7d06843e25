"""What the block detector sees of each candidate block (`collectors/blocks.py`): features.

Per candidate: whether its heading, the text before it and its class and id words say related,
popular or navigation (word lists in a dozen languages, `collectors/block_words.py`; the words
themselves are not features, since they taught the model the labelled sites), how its links and
their texts look (headline-like, same site and section, article-like paths, words shared with
the page title, links repeated elsewhere on the page), where it stands against the article
body, and its sibling structure. Whether a list is chosen for this article rather than the same
on every page is seen against the page: words its headlines share with the body or the page's
own keywords, and how far its share of such headlines falls below the best list of the page.
Each share is also seen as a level (none, under half, half or more, all: `LEVELLED`). The
heading rules of old are features here, not gates. The detector (`collectors/block_model.py`)
learns from labelled pages which make a Related-News block; the bench and the labelled rows
(`bench/related_bench.py`, `bench/blocks_data.py`) use `described` too.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from lxml import etree

from collectors.block_words import (
    RELATED_HEADING_EXACT,
    ascii_words,
    long_words,
    other_words,
    says,
    says_a_topic,
    title_words,
)
from collectors.blocks import Candidate, PageElements, candidates
from collectors.page_links import page_links
from collectors.page_meta import declared_elsewhere, home_elsewhere, page_meta, same_page_urls
from collectors.urls import host_and_path, same_site

# The length of an element's text with runs of white space as one: `_text`, computed in libxml2
_TEXT_LENGTH = etree.XPath("string-length(normalize-space(.))")
# Paths that look like one article: a date, a long number, .html, or a slug of three words, a
# number or a slug sought only from the start of its run (from each character: 3x the time).
_ARTICLE_PATH = re.compile(
    r"/\d{4}/\d{1,2}/|(?<!\d)\d{5}|\.s?html?$|(?<![a-z0-9])[a-z0-9]+-[a-z0-9]+-[a-z0-9]", re.I)
# The same for an ASCII path (nearly all), case-sensitive, each word of it beginning with a
# character rather than a look behind: the regex engine then skips to the possible first
# characters (0.6 of the time; a test holds the two equal on ASCII paths).
_ARTICLE_PATH_ASCII = re.compile(
    r"/\d{4}/\d{1,2}/|\d(?<!\d\d)\d{4}|\.[sS]?[hH][tT][mM][lL]?$"
    r"|[a-zA-Z0-9](?<![a-zA-Z0-9][a-zA-Z0-9])[a-zA-Z0-9]*-[a-zA-Z0-9]+-[a-zA-Z0-9]")

BODY_TAGS = frozenset({"div", "article", "section", "main", "td"})


def body_element(elements: PageElements) -> tuple[Any, dict[Any, str]]:
    """The element that holds the most paragraph text: where the article body is (the first
    in page order of those that hold the most), or None; and the texts of the paragraphs read
    to find it (most of the body's, which `_body_words` reads again)."""
    lengths: dict[Any, int] = {}
    texts: dict[Any, str] = {}
    for paragraph in elements.paragraphs:  # one pass over them, not each box's children
        parent = paragraph.getparent()
        if parent is not None and parent.tag in BODY_TAGS:
            text = texts[paragraph] = paragraph.text_content()
            lengths[parent] = lengths.get(parent, 0) + len(text)
    most = max(lengths.values(), default=0)
    if not most:
        return None, texts
    return min((e for e, length in lengths.items() if length == most),
               key=elements.order.__getitem__), texts


# Of one link (`_link_facts`): same site, article-like path, same section, headline words, a
# headline (five or more) or one word at most, words shared with the title, linked again on
# the page, on the body's topic, holds a keyword, its text's length
LinkFacts = tuple[bool, bool, bool, float, bool, bool, int, bool, bool, bool, int]


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
    body_words: frozenset[str] = frozenset()  # `topic_words` said twice or more in the body
    keywords: tuple[str, ...] = ()        # the page's own keywords and tags (`page_meta`)
    # the host and first path segment of the URL the page declares, when on another site
    # (`page_meta.declared_elsewhere`: a page fetched from a mirror), else of the site it
    # links to as its home (`page_meta.linked_home`): its own site's too
    declared_host: str = ""
    declared_section: str = ""
    link_facts: dict[tuple[str, str], LinkFacts] = field(
        default_factory=dict)   # (URL, text) → `_link_facts`
    url_facts: dict[str, tuple[bool, bool, bool]] = field(
        default_factory=dict)   # URL → its part of `_link_facts`
    host_facts: dict[str, bool] = field(
        default_factory=dict)   # host → on the page's site (or the declared URL's)



def _body_words(body: Any, texts: dict[Any, str]) -> frozenset[str]:
    """The topic words the article body says at least twice, outside its links' own text (an
    "also read" list in the body would otherwise share every word with it).

    The stop words and numbers are left out at the end, of the few words said twice (a test
    holds that equal to counting `topic_words`), and the paragraphs without links are read as
    one text, counted in C (no word runs across the blank that joins them). `texts`: the
    paragraph texts `body_element` read already."""
    if body is None:
        return frozenset()
    counts: Counter[str] = Counter()
    unlinked: list[str] = []
    for paragraph in body.iter("p"):
        text = texts.get(paragraph)
        if text is None:
            text = paragraph.text_content()
        anchors = list(paragraph.iter("a"))
        if not anchors:
            unlinked.append(text)
            continue
        linked = " ".join(a.text_content() for a in anchors)
        # a paragraph's links take away no more than it says
        counts.update(Counter(long_words(text)) - Counter(long_words(linked)))
    counts.update(long_words(" ".join(unlinked)))
    return frozenset(word for word, n in counts.items() if n > 1 and says_a_topic(word))



def _last_descendant(element: Any) -> Any:
    """The element's last descendant in page order (itself if it has none): the one of its
    subtree with the highest position."""
    while len(element):
        element = element[-1]
    return element


def _title_texts(elements: PageElements) -> list[str]:
    """The text nodes inside the page's title elements (the XPath `//title//text()`), read
    without an XPath evaluation per page: a title inside another is read with it, once."""
    return [text for title in elements.titles
            if next(title.iterancestors("title"), None) is None for text in title.itertext()]


def page_context(elements: PageElements, page_url: str, found: list[Candidate],
                 links: list[tuple[Any, str]], declared: str | None) -> PageContext:
    """What the page's candidates are compared against; `declared`: the URL the page declares
    on another site than `page_url`'s (`page_meta.declared_elsewhere`), else the home of the
    site it links to when it declares none (`page_meta.linked_home`), if any."""
    order = elements.order
    body, texts = body_element(elements)
    body_end = order[_last_descendant(body)] if body is not None else 0
    title = " ".join(" ".join(_title_texts(elements)).split())[:300]
    og_title, keywords = page_meta(elements)
    link_counts: dict[str, int] = {}
    for _, url in links:
        link_counts[url] = link_counts.get(url, 0) + 1
    host, path = host_and_path(page_url)
    blocks = {c.element for c in found}
    holds: dict[Any, int] = {}
    for candidate in found:
        for ancestor in candidate.element.iterancestors():
            if ancestor in blocks:
                holds[ancestor] = holds.get(ancestor, 0) + 1
    declared_host, declared_path = host_and_path(declared or "")
    return PageContext(page_url, order, body, body_end,
                       title_words(f"{title} {og_title}"), link_counts,
                       holds, host, path.strip("/").split("/")[0],
                       order[body] if body is not None else 0, _body_words(body, texts),
                       keywords, declared_host, declared_path.strip("/").split("/")[0])


def _link_facts(page: PageContext, link: tuple[str, str]) -> LinkFacts:
    """Of one link (URL, text), its `LinkFacts`, once per page (`PageContext.link_facts` keeps
    them); its words are read by `ascii_words` or `other_words`."""
    url, text = link
    of_url = page.url_facts.get(url)
    if of_url is None:
        host, path = host_and_path(url)
        first = path.strip("/").split("/")[0]
        same = page.host_facts.get(host)
        if same is None:  # a page links to a few hosts, by many URLs
            same = page.host_facts[host] = (same_site(host, page.host) or bool(
                page.declared_host) and same_site(host, page.declared_host))
        of_url = page.url_facts[url] = (
            same, bool((_ARTICLE_PATH_ASCII if path.isascii() else _ARTICLE_PATH).search(path)),
            bool(page.section) and first == page.section
            or bool(page.declared_section) and first == page.declared_section)
    words_of = ascii_words if text.isascii() else other_words
    headline, shared, shares_body = words_of(text, page.title_words, page.body_words)
    keyworded = False
    if page.keywords:
        lowered = text.lower()
        keyworded = any(map(lowered.__contains__, page.keywords))
    facts = page.link_facts[link] = (
        *of_url, headline, headline >= 5, headline <= 1, shared,
        page.link_counts.get(url, 0) > 1, shares_body, keyworded, len(text))
    return facts


def features(candidate: Candidate, page: PageContext) -> dict[str, float]:
    """What the detector sees of one candidate: numbers and words (heading, markers)."""
    element, order, body = candidate.element, page.order, page.body
    n = len(candidate.links)
    # the facts of its links (`_link_facts`), column by column; a candidate has two or more
    known = page.link_facts  # a link stands in every block around it: its facts are kept
    (same, articles, sections, words, headlines, one_word, overlaps, repeated, on_topic,
     keyworded, text_lengths) = zip(
        *[known.get(link) or _link_facts(page, link) for link in candidate.links], strict=True)
    total_text = int(_TEXT_LENGTH(element)) or 1
    link_text = sum(text_lengths)
    child_tags = [child.tag for child in element.iterchildren(etree.Element)]
    at = order.get(element, 0)
    # Of its headlines alone, the shares on the title's and on the body's topic: a card's
    # image, author and comment links dilute the shares over all links (toutiao's cards).
    heads = sum(headlines)
    out: dict[str, float] = {
        "links": min(n, 60) / 60, "links_log": float(len(str(n))),
        "anchor_words_mean": min(sum(words) / len(words), 30) / 30,
        "headline_like": sum(headlines) / len(words), "one_word": sum(one_word) / len(words),
        "same_site": sum(same) / n, "article_like": sum(articles) / n,
        "same_section": sum(sections) / n if page.section or page.declared_section else 0.0,
        "title_overlap": min(sum(overlaps) / n, 5) / 5,
        "shares_title_word": (n - overlaps.count(0)) / n,
        "repeated_on_page": sum(repeated) / n,
        "shares_body_word": sum(on_topic) / n, "shares_keyword": sum(keyworded) / n,
        "headline_title_share": (sum(map(bool, compress(overlaps, headlines))) / heads
                                 if heads else 0.0),
        "headline_body_share": sum(compress(on_topic, headlines)) / heads if heads else 0.0,
        "holds_candidates": min(page.candidates_in.get(element, 0), 10) / 10,
        "link_density": min(1.0, link_text / total_text),
        "position": at / max(1, len(order)), "after_body": 0.0, "inside_body": 0.0,
        "just_after_body": 0.0, "after_body_distance": 0.0,
        "depth": min(len(list(element.iterancestors())), 30) / 30,
        "children": min(len(child_tags), 30) / 30,
        "uniform_children": (max(child_tags.count(t) for t in set(child_tags)) / len(child_tags)
                             if child_tags else 0.0),
        "heading_none": float(not candidate.heading),
        "heading_exact_related": float(bool(RELATED_HEADING_EXACT.match(candidate.heading))),
        f"tag={candidate.tag}": 1.0,
    }
    out["heading_related"], out["heading_popular"], out["heading_nav"] = says(candidate.heading)
    out["marker_related"], out["marker_popular"], out["marker_nav"] = says(candidate.markers)
    for ancestor in element.iterancestors("nav", "footer", "header", "aside"):
        out[f"in_{ancestor.tag}"] = 1.0
    if body is not None:
        if page.body_start <= at <= page.body_end:  # a subtree is a run of positions
            out["inside_body"] = 1.0
        elif at > page.body_end:
            out["after_body"] = 1.0
            out["after_body_distance"] = min(1.0, (at - page.body_end) / 2000)
            out["just_after_body"] = float(at - page.body_end < 300)
    # The heading's, the text before's and the class attributes' own words are not features:
    # on sites the model never saw they cost more than they gave (a word seen on a few
    # sites' pages is learnt as those sites; `bench/README.md`, tenth session). What the
    # words say is read through the word lists above (`says`).
    before = candidate.heading_before
    if before and before != candidate.heading:
        related, popular, nav = says(before)
        out["before_related"], out["before_popular"], out["before_nav"] = related, popular, nav
    out.update(dict.fromkeys([  # `LEVELS`, per candidate
        none if share < 0.001 else every if share >= 0.999 else most if share >= 0.5 else some
        for name, (none, some, most, every) in _LEVEL_NAMES for share in (out[name],)], 1.0))
    return out


# The shares and scales (0 to 1) that the detector also sees as a level: none, under half,
# half or more, all. A linear model weighs a share in proportion; "every link to the same
# site" or "no link to an article" can mean more than the proportion says. On the labelled
# pages (489, ten shuffled cross-validations by site, twice; link F1, on the scrapinghub
# pages, popular links followed): 0.695 / 0.695, 0.801 / 0.773, 277 / 293 without; with,
# followed at 0.3 (`block_model.PARAMS`), 0.709 / 0.719, 0.833 / 0.833, 267 / 267.
LEVELLED = ("links", "anchor_words_mean", "headline_like", "one_word", "same_site",
            "article_like", "same_section", "title_overlap", "shares_title_word",
            "repeated_on_page", "shares_body_word", "shares_keyword", "holds_candidates",
            "link_density", "position", "after_body_distance", "depth", "children",
            "uniform_children")


# A share's level: `none` below 0.001, `all` from 0.999, else `some`, or `most` from 0.5.
LEVELS = ("none", "some", "most", "all")
_LEVEL_NAMES = tuple((name, tuple(f"{name}:{level}" for level in LEVELS)) for name in LEVELLED)


def described(tree: Any, page_url: str) -> list[tuple[Candidate, dict[str, float]]]:
    """Every candidate of a page with its features."""
    if tree is None:
        return []
    elements = PageElements.of(tree)
    declared = declared_elsewhere(elements, page_url)
    links = page_links(elements, page_url, same_page_urls(page_url, declared))
    found = candidates(tree, page_url, links, elements)
    if not found:
        return []
    home = home_elsewhere(elements, page_url, links)
    page = page_context(elements, page_url, found, links, home[0] if home else None)
    out = [(c, features(c, page)) for c in found]
    _against_page(out)
    return out


# Lists of fewer links than this are left out of a page's best (`_against_page`): a pair of
# links shares a word by chance more often than a list does.
PAGE_BEST_MIN_LINKS = 3


# Per-link shares that `_against_page` sees against the page's best list, and the names of
# the differences: on the title's topic, on the body's, in the page's section, article paths,
# holding the page's keywords, and of the headlines alone, on the title's topic.
AGAINST_PAGE = (("shares_title_word", "title_vs_page"), ("shares_body_word", "body_vs_page"),
                ("same_section", "section_vs_page"), ("article_like", "article_vs_page"),
                ("shares_keyword", "keyword_vs_page"),
                ("headline_title_share", "headline_title_vs_page"))


def _against_page(found: list[tuple[Candidate, dict[str, float]]]) -> None:
    """Each candidate's shares of links on the page's topic, in its section, to articles and
    holding its keywords, against the page's best list: a list chosen for this article is the
    best or near it, while a most-read or latest list beside it falls below, however many of
    its headlines share a word by chance. (On the labelled pages, link F1 over five shuffled
    cross-validations, and the popular links followed: 0.628 and 589 before; 0.661 and 484
    with `shares_body_word` and the title and body against the page; 0.670 and 475 with the
    section and article ones; 0.683 and 448 with the keywords. Ten shuffles, sixteenth
    session: 0.707 and 221 before, 0.724 and 215 with the shares of headlines on the
    title's and the body's topic, and the first against the page.)
    """
    lists = [feats for candidate, feats in found if len(candidate.links) >= PAGE_BEST_MIN_LINKS]
    for share, against in AGAINST_PAGE:
        best = max((feats[share] for feats in lists), default=0.0)
        for _, feats in found:
            feats[against] = feats[share] - best
