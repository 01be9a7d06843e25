"""The block detector's fast paths held to the general forms they stand for: each special case
(`says` on lower-cased ASCII, the article-path pattern, the page's title texts and links, a
link text's words read in one split, the body's words) gives what the general function gives.
The detector itself, on real pages, is tested in `tests/test_blocks.py`.
"""

from __future__ import annotations

import re
import sys
from collections import Counter

import pytest

from collectors.block_features import (
    _ARTICLE_PATH,
    _ARTICLE_PATH_ASCII,
    _body_words,
    _title_texts,
)
from collectors.block_words import (
    LATEST_HEADING,
    NAV,
    POPULAR,
    RELATED,
    RELATED_WORDS,
    SAYS_PATTERNS,
    ascii_words,
    fold,
    headline_words,
    one_of,
    other_words,
    says,
    title_words,
    topic_words,
)
from collectors.blocks import PageElements
from collectors.page_links import page_links
from collectors.pages import parse_html
from collectors.urls import http_url
from common.text import CJK


def test_the_word_patterns_find_the_same_in_lower_cased_ascii_text() -> None:
    """`says` searches ASCII text lower-cased with case-sensitive copies of the word patterns:
    that finds the same only while every letter of the patterns is lower-case and none of
    their other characters matches an ASCII one when case is ignored (as `ſ` matches `s`)."""
    for pattern in (pattern for patterns in SAYS_PATTERNS for pattern in patterns):
        assert pattern.pattern == pattern.pattern.lower()
        for char in {c for c in pattern.pattern if not c.isascii()}:
            assert not any(re.fullmatch(re.escape(char), chr(code), re.I) for code in range(128))
    for text in ("Related Stories", "MOST READ", "Follow Us", "sidebar-Nav", "Top Stories",
                 "RELATED-posts", "Tags", "tagsx", "Lire aussi", "相关新闻", "The Latest News",
                 "Latest Headlines", "Tennis latest headlines", "Articles liés", "Résultats"):
        assert says.__wrapped__(text) == tuple(
            float(any(pattern.search(fold(text)) for pattern in patterns))
            for patterns in SAYS_PATTERNS), text


def test_every_word_the_word_patterns_search_for_begins_with_a_letter() -> None:
    """`says` is fast because each searched pattern is an alternation whose every branch
    begins with a literal character: the regex engine then skips to the possible first
    characters (read from the parsed pattern; `re._parser` is the standard library's own)."""
    from re import _parser  # type: ignore[attr-defined]

    for pattern in (p for patterns in SAYS_PATTERNS for p in patterns if p is not LATEST_HEADING):
        [(op, (_, branches))] = _parser.parse(pattern.pattern).data
        assert op is _parser.BRANCH
        assert all(branch.data[0][0] is _parser.LITERAL for branch in branches), pattern.pattern
    assert LATEST_HEADING.pattern.startswith("^")  # anchored: tried at the start only


@pytest.mark.parametrize("words", [RELATED, POPULAR, NAV])
def test_the_word_patterns_grouped_by_letter_find_what_each_word_finds(
        words: tuple[str, ...]) -> None:
    """`one_of` compiles the words grouped by their first letter: a text (`fold`ed, as `says`
    folds it) is found by the grouped pattern exactly when one of the words, folded and
    searched alone, finds it (every word's own text, in capitals, inside a sentence, cut short
    by a letter, and words it does not hold)."""
    grouped = one_of(words)
    assert len(grouped.pattern) < len("|".join(words)) + 5 * len(words)
    texts = ["", "nothing to see", "Related Stories", "MORE IN WHITE HOUSE", "more info",
             "moreinx", "Lesen Sie auch:", "czytaj także", "Oubliés", "Articles liés »",
             "相关新闻", "tagsx", "tags", "Next Up In MLB", "you might also like", "you like"]
    for word in words:
        # the word as a text: the first of each choice, optional parts kept, no assertions
        plain = re.sub(r"\(\?<!\\wl\)|\\b|\?", "", word)
        plain = re.sub(r"\(([^()|]*)(\|[^()]*)?\)|\[(.)[^]]*\]", r"\1\3", plain)
        assert re.search(word, plain, re.I), (word, plain)
        texts += [plain, plain.upper(), f"x {plain} y", plain[:-1], plain + "x"]
    for text in map(fold, texts):
        assert bool(grouped.search(text)) == any(
            re.search(fold(word), text, re.I) for word in words), text


@pytest.mark.parametrize("text", ["liés", "Articles liés", "LIÉS", "lies", "oubliés", "aliés",
                                  "l'liés", "liésx", "_liés", "1liés", "x liés!"])
def test_the_word_lies_begins_a_word_as_with_a_word_boundary(text: str) -> None:
    """The related words' `l(?<!\\wl)i[ée]s\\b` is `\\bli[ée]s\\b` written to begin with a
    letter."""
    with_boundary = "|".join(r"\bli[ée]s\b" if word == r"l(?<!\wl)i[ée]s\b" else word
                             for word in RELATED)
    assert with_boundary != "|".join(RELATED)
    assert (bool(RELATED_WORDS.search(fold(text)))
            == bool(re.search(with_boundary, text, re.I))), text


def test_the_article_path_pattern_finds_what_the_plain_one_finds() -> None:
    """`_ARTICLE_PATH` seeks a number or a slug only from the start of its run: found or not,
    as the plain pattern of a date, five digits or more, .html, or three words joined by
    hyphens."""
    plain = re.compile(
        r"(/\d{4}/\d{1,2}/)|(\d{5,})|(\.s?html?$)|([a-z0-9]+-[a-z0-9]+-[a-z0-9]+)", re.I)
    paths = ["/", "/news/2024/5/x", "/2024/05", "/a/1234", "/a/12345", "/a/x12345y", "/p.html",
             "/p.shtml", "/p.htm", "/p.html/x", "/p.HTML", "/one-two", "/one-two-three",
             "/One-Two-3", "/a-b-", "/-a-b-c", "/ab--cd-ef", "/a_b-c-d", "/ſ-K-x", "/é-b-c",
             "/longwordwithoutbreaks-and-more", "/x/1-2-3", "/١٢٣٤٥", "/2024/1/", "/a/b/c"]
    for path in paths:
        assert bool(_ARTICLE_PATH.search(path)) == bool(plain.search(path)), path
        if path.isascii():
            assert bool(_ARTICLE_PATH_ASCII.search(path)) == bool(plain.search(path)), path


def test_the_page_title_texts_are_the_title_xpaths() -> None:
    tree = parse_html("<html><head><title>A &amp; B<!-- c --> C</title>"
                      "<meta property='og:title'></head><body><svg><title>x</title></svg>"
                      "<p>text</p></body></html>")
    assert _title_texts(PageElements.of(tree)) == tree.xpath("//title//text()")


def test_the_links_of_a_page_resolve_as_urljoin_resolves_them() -> None:
    """`page_links` skips urljoin for plain absolute URLs, paths from the root, hosts without a
    scheme and other schemes: each href still gives what `http_url(href, base)` gives."""
    hrefs = ["https://b.com/x", "http://b.com/x?", "/a/b?c#d", "/a/./b", "//a", "/a;b", "//c.com/x",
             "//", "///x", "//?a", "//c.com/x;y", "//c.com/x?#", "//c.com/./x", "//c.com:99999/x",
             "//[::1/x", "mailto:x@y.z", "JavaScript:void(0)", "HTTP:x", "https:x", "tel:1",
             "1a:b", "x.html", "../y", "?q", "#top", "", "//C.com/X#f"]
    base = "https://www.example.com/a/b.html?q=1"
    tree = parse_html("<html><body>" + "".join(f'<a href="{href}">{i}</a>'
                                               for i, href in enumerate(hrefs)) + "</body></html>")
    found = {int(anchor.text): url for anchor, url in page_links(PageElements.of(tree), base)}
    for i, href in enumerate(hrefs):
        url = http_url(href, base) if href and not href.startswith("#") else None
        url = url.split("#")[0] if url is not None else None
        assert found.get(i) == (url if url != base else None), href


@pytest.mark.parametrize("text", [
    "Chip export rules tighten", "", "A-B c_d 2024: the AI race, again!", "x y z",
    "NVIDIA's H20 and the U.S. rules", "  Related   Stories  ", "EXPORT Rules, China",
    "All about that 2024"])
def test_ascii_link_words_are_the_headline_and_title_words(text: str) -> None:
    """The one-split path for ASCII link texts gives what the general functions give, for
    body words that are topic words, as `_body_words` makes them (no number, no stop word)."""
    title = title_words("China tightens AI chip export rules again")
    body = frozenset(topic_words("rules chip export 2024 again nvidia about"))
    assert "2024" not in body and "about" not in body
    assert ascii_words(text, title, body) == (
        headline_words(text), len(title_words(text) & title),
        not body.isdisjoint(topic_words(text)))
    assert ascii_words(text, frozenset(), frozenset()) == (headline_words(text), 0, False)


@pytest.mark.parametrize("text", [
    "华为芯片出口管制再收紧", "AI芯片 export rules：华为", "İstanbul chip rules",
    "\u212aelvin rules", "第2024篇 about 芯片", "芯", "Ascend 芯片 ascend 2024 news",
    "ÉTÉ chips d'été", "「」《》"])
def test_other_link_words_are_the_headline_and_title_words(text: str) -> None:
    """The one-split path for link texts that are not all ASCII gives what the general
    functions give (a word that lower-cases into two, and one that lower-cases into ASCII,
    among them), for body words that are topic words, as `_body_words` makes them."""
    title = title_words("华为芯片出口 AI chip rules in İstanbul")
    for body in (frozenset(topic_words("芯片 rules ascend 2024 about")),
                 frozenset(["kelvin"])):
        assert other_words(text, title, body) == (
            headline_words(text), len(title_words(text) & title),
            not body.isdisjoint(topic_words(text)))
    assert other_words(text, frozenset(), frozenset()) == (headline_words(text), 0, False)


def test_lower_casing_keeps_word_and_chinese_characters_but_for_one() -> None:
    """`other_words` counts the headline words of a text in its lower-cased form when that
    is as long: every character but `İ` lower-cases into one character that is a word
    character and Chinese when it is."""
    word = re.compile(r"\w")
    longer = []
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        lowered = char.lower()
        if lowered == char:  # most characters
            continue
        if len(lowered) != 1:
            longer.append(char)
            continue
        assert bool(word.match(char)) == bool(word.match(lowered)), hex(point)
        assert bool(CJK.match(char)) == bool(CJK.match(lowered)), hex(point)
    assert longer == ["İ"]
    assert word.match("ς")  # Σ at the end of a word, the one lower-casing that reads context


def test_the_body_words_are_the_topic_words_said_twice_outside_links() -> None:
    """`_body_words` counts every long word and leaves the stop words and numbers out at the
    end: the same as counting each paragraph's `topic_words` less its links' own."""
    tree = parse_html(
        "<html><body><div>"
        "<p>Export rules about chips, export rules 2024 2024 that that. 芯片出口，芯片管制。</p>"
        "<p>Chips <a href='/a'>chips penguins penguins</a> penguins about rules</p>"
        "<p>Half<a href='/b'>word</a> halfword <a href='/c'>Export export</a> about 芯片</p>"
        "<p><a href='/d'>links links</a><a href='/e'></a> links</p>"
        "<p>管</p><p>制</p><p>管</p><p>制 penguin</p><p>s penguin</p>"
        "</div></body></html>")
    [body] = tree.iter("div")
    counts: Counter[str] = Counter()
    for paragraph in body.iter("p"):
        linked = " ".join(a.text_content() for a in paragraph.iter("a"))
        counts.update(Counter(topic_words(paragraph.text_content()))
                      - Counter(topic_words(linked)))
    expected = frozenset(word for word, n in counts.items() if n > 1)
    assert _body_words(body, {}) == expected
    assert _body_words(body, {p: p.text_content() for p in body.iter("p")}) == expected
    assert {"export", "rules", "chips", "芯片"} <= expected
    assert not expected & {"about", "that", "2024", "penguins", "links", "管制"}
    assert "penguin" in expected  # the paragraphs without links are read apart, as one text




@pytest.mark.parametrize(("heading", "related"), [
    ("Verwandte Artikel", True), ("Verwandte Beiträge", True), ("VERWANDTE THEMEN", True),
    ("Lesen Sie auch:", True), ("Related Posts", True), ("Passend zum Thema", True),
    ("Przeczytaj również", True), ("Přečtěte si také", True), ("Tin cùng chuyên mục", True),
    ("قد يهمك", True), ("यह भी पढ़ें", True), ("Σχετικά άρθρα", True), ("Читайте також", True),
    ("合わせて読みたい", True), ("Artikel Terkait", True), ("İlgili Haberler", True),
    ("Am meisten gelesen", False), ("Verwaltung", False), ("Przeczytaj regulamin", False),
    ("διαβαστε επισης", True), ("ΔΙΑΒΑΣΤΕ ΕΠΙΣΗΣ", True), ("إقرأ أيضاً", True),
    ("انظر أيضا:", True), ("До теми", True), ("Više o temi", True), ("Lexo edhe", True),
    ("Másnoticias", True), ("BERITA REKOMENDASI", True), ("Pročitajte i ovo", True),
    ("Pročitajte intervju", False), ("Najčitanije", False)])
def test_a_heading_that_says_read_also_or_related_in_another_language_is_read_as_related(
        heading: str, related: bool) -> None:
    """WordPress and its German themes head "Related Posts" as "Verwandte Artikel" or
    "Verwandte Beiträge" (freshideen's and achgut's lists, batch hd2): a related word, as
    "Lesen Sie auch" is; so are the usual "read also" and "related articles" of other
    languages, written with their accents or without them (`fold`: capitals, or typed so)."""
    assert bool(says(heading)[0]) is related
