"""What the words around a candidate block say (`collectors/block_features.py` reads them):
whether a heading or the class and id words speak of related, popular or navigation links
(word lists in a dozen languages), and the words of a link text, a page title or a body that
tell whether a headline shares the page's story (Latin words and Chinese character pairs).

Pure functions of text, no page: the features module keeps what needs the page's elements.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from common.text import CJK


def fold(text: str) -> str:
    """The text without its accents and other combining marks (`é` → `e`, Arabic `إ` → `ا`
    and its short vowels dropped, Greek `ά` → `α`): headings in capitals or typed without
    them ("διαβαστε επισης", "إقرأ أيضاً") say the same words. Kana and Hangul fold too, the
    same way in the words and in the text."""
    return "".join(c for c in unicodedata.normalize("NFD", text)
                   if not unicodedata.combining(c))


def one_of(words: tuple[str, ...], flags: int = re.I) -> re.Pattern[str]:
    """A pattern that finds any of `words` (each a pattern beginning with a literal letter),
    compiled with the words grouped by that letter: the regex engine tries at a character
    only the words that begin with it, not all of them. (The related words, ungrouped, took
    10.8 µs a text of the labelled pages' headings and class words; grouped, 5.0.)"""
    groups: dict[str, list[str]] = {}
    for word in map(fold, words):
        assert word[0] not in "\\([{.^$*+?|", word  # a literal letter, or grouping breaks it
        groups.setdefault(word[0], []).append(word[1:])
    return re.compile("|".join(f"{first}(?:{'|'.join(rests)})"
                               for first, rests in groups.items()), flags)


# Headings that introduce related coverage, most-read lists, and navigation, in English, Chinese
# and the labelled pages' other languages (the seventh line's words: bench/README, fourteenth
# session). Features of the detector, not gates. The related words from "more in" on (the
# nineteenth session) are the usual "see also", "read also", "related" and "you may also like"
# of twenty languages, written from what those sites say rather than read off the labelled
# pages, and English "More in <section>", "Next up" and "More like this"; so are the popular
# words from "most watched" on: most-read lists, editors' picks and sponsored lists, and from
# "dernières actualités" on (the twentieth session) the "latest news", "top stories" and
# editors' or the site's picks of other languages; German "Verwandte Artikel / Beiträge /
# Themen" (WordPress's German for "Related Posts"), and from "passend zum thema" on more "read
# also" and "related articles" of German, Polish, Czech, Vietnamese, Arabic, Hindi, Greek,
# Ukrainian, Japanese and Indonesian, from the twenty-first (none of these but "verwandte" heads
# a candidate of the labelled pages); from "до теми" on (the twenty-second), those of Ukrainian,
# Bosnian, Croatian and Serbian, Albanian, Armenian, Bulgarian, Lithuanian, Arabic, Persian,
# Hebrew, Hindi and Indonesian, after the MediaCloud pages (batches mc*) showed headings in
# those languages. Words and texts are matched `fold`ed, without accents and vowel marks.
# "Latest articles" and its kin are popular only as a whole heading (`LATEST_HEADING`): "Ses
# derniers articles" is an author's.
RELATED = (
    "related", "more on", "more from", "more about", "read more", "see also", "also read",
    "read next", "recommended", "you (may|might) (also )?like", "further reading",
    "more stories", "more news", "keep reading", "up next",
    "relacionad", "también en", "tambien en", "lea también", "lee también", "leia também",
    "lire aussi", "à lire", "sur le même sujet", "dans la même rubrique",
    "mehr zum thema", "mehr aus", "auch interessant", "weitere artikel", "leggi anche",
    "correlat", "potrebbe interessarti", "lees ook", "gerelateerd", "читайте также", "по теме",
    "関連", "あわせて読みたい", "관련", "เกี่ยวข้อง",
    r"l(?<!\wl)i[ée]s\b", "vous conseille", "à découvrir", "zum thema", "ähnliche",
    "nicht verpassen", "simil[ai]",
    "相关", "相關", "延伸", "推荐", "推薦", "更多", "猜你喜欢", "热点推荐", "最新文章",
    r"more in\b", "next up", "more like this", "read also",
    "auch gefallen", "auch interessieren", "lesen sie auch", "siehe auch", "mehr nachrichten",
    "mehr dazu", r"mehr zu\b", "gleichen kategorie", "dieser kategorie", "weitere themen",
    "verwandte", "passend zum thema", "zum weiterlesen", "auch lesenswert",
    "przeczytaj (też|także|również)", "přečtěte si (také|též)", "tin cùng chuyên mục",
    "đọc thêm", "قد يهمك", "यह भी पढ़ें", "σχετικά άρθρα", "διαβάστε (επίσης|ακόμη)",
    "читайте також", "合わせて読みたい", "artikel terkait",
    "sur le sujet", "en relation", "voir aussi", "vous aimerez",
    "pourrait vous intéresser", "peuvent vous intéresser", "ti potrebbe interessare",
    "potrebbero interessarti", "te puede interesar", "te podría interesar", "quizás te interese",
    "veja também", "você pode gostar", "pode te interessar", "meer over", "powiązane",
    "czytaj (też|także|również)", "zobacz (też|także|również)", "související", "čtěte také",
    "mohlo by vás zajímat", "kapcsolódó", "похожие", "смотрите также",
    "ilgili haberler", "benzer haberler", "ilginizi çekebilir", "läs också",
    "relaterat", "relatert", "les også", "læs også", "lue myös", "citește și",
    "baca juga", "berita terkait", "tin liên quan", "bài viết liên quan",
    "اقرأ أيضا", "ذات صلة", "こちらもおすすめ", "おすすめ記事",
    "до теми", "на тему", "схожі новини", "više o temi", "povezan", "pročitajte (još|i)\\b",
    "vezane vijesti", "slične vijesti", "slične vesti", "повезане", "прочитајте још",
    "више о теми", "lajme të ngjashme", "lexo (edhe|gjithashtu)", "artikuj të ngjashëm",
    "կարդացեք նաև", "նմանատիպ", "առնչվող", "свързани", "прочетете (още|също)",
    "още по темата", "susiję", "taip pat skaitykite", "انظر أيضا", "ذات علاقة", "متعلقة",
    "مطالب مرتبط", "اخبار مرتبط", "بیشتر بخوانید", "עוד בנושא", "כתבות קשורות",
    "ये भी पढ़ें", "berita rekomendasi", "más ?noticias")
POPULAR = (
    "most (read|popular|viewed|shared|emailed|commented)", "popular", "trending", "top stories",
    "editor'?s picks", "latest (news|stories)", "breaking", "más leíd", "más vist", "lo más",
    "meistgelesen", "les plus lus", "più lett", "mais lid", "人気", "많이 본", "인기",
    "热门", "熱門", "排行", "最热", "最熱", "热点", "要闻", "头条", "精彩", "点击排行", "點擊排行",
    "点击榜",
    "most watched", "editor's choice", "editors' choice", "staff picks", "around the web",
    "from our partners", "sponsored", "promoted", "meistgeklickt", "am meisten gelesen",
    "les plus partagés", "più vist", "mais vist", "najczęściej czytane",
    "meest gelezen", "populair", "nejčtenější", "самое читаемое", "популярное", "en çok okunan",
    "mest läst", "mest lest", "mest læst", "luetuimmat", "terpopuler", "đọc nhiều",
    "الأكثر قراءة", "ランキング", "랭킹",
    "dernières actualités", "dernières nouvelles", "últimas noticias", "últimas notícias",
    "ultime notizie", "neueste nachrichten", "laatste nieuws", "najnowsze wiadomości",
    "последние новости", "son haberler", "à la une", "주요 ?기사", "主要ニュース", "编辑推荐",
    "編輯推薦", "编辑精选", "本站推荐", "随机推荐")
NAV = (
    "menu", "nav", "navigation", "breadcrumb", "footer", "header", "topics", "sections",
    r"tags?\b", "share", "social", "follow us", "subscribe", "newsletter", "login", "sign in",
    "导航", "導航", "频道", "頻道", "登录", "登錄", "分享")
RELATED_WORDS = one_of(RELATED)
POPULAR_WORDS = one_of(POPULAR)
# Not 点击 alone ("您有未读新闻，点击查看" heads related feeds), nor "latest" but as a whole heading
# ("Tennis latest" is the article's topic's; bench/README, fourteenth session).
LATEST_HEADING = re.compile(
    r"^\s*(the\s*)?(latest|recent|newest|neueste)\s*(headlines|posts|articles|features|stories"
    r"|news|exclusives|reviews|videos|comments|beitrage|artikel)\s*$", re.I)  # `fold`ed
NAV_WORDS = one_of(NAV)
# A heading that is nothing but "Related News" and its kin (the rule of the first release, a
# feature now): far more precise than a related word anywhere in a heading.
RELATED_HEADING_EXACT = re.compile(
    r"^\s*(related( news| coverage| articles?| stories| content| reading| posts| links)?"
    r"|more on this (story|topic)|more from .{1,30}|read more( on this)?|see also"
    r"|you (may|might) also (like|be interested in)|recommended( for you| reading)?"
    r"|further reading|also read|read next|relacionad[oa]s?|lire aussi|leggi anche"
    r"|mehr zum thema|相关新闻|相關新聞|延伸阅读|延伸閱讀|相关阅读|相關閱讀|相关文章|相關文章"
    r"|相关报道|相關報導|推荐阅读|推薦閱讀|更多新闻|更多新聞)\s*[:：»›>]?\s*$", re.I)

_WORD = re.compile(r"\w+")
_LONG_WORD = re.compile(r"\w{4,}")  # `_WORD`'s runs of four characters or more
_CJK_RUN = re.compile(f"{CJK.pattern}{{2,}}")

@lru_cache(maxsize=8192)
def title_words(text: str) -> frozenset[str]:
    """Latin words of three letters or more, and Chinese character pairs: enough to see that
    a headline shares the story of the page's title, in either script."""
    lowered = text.lower()
    if lowered.isascii():  # no Chinese to set apart
        return frozenset(w for w in _WORD.findall(lowered) if len(w) > 2)
    latin = {w for w in _WORD.findall(CJK.sub(" ", lowered)) if len(w) > 2}
    return frozenset(latin.union(cjk_pairs(lowered)))


# Short words that any two English headlines share: not a sign of one topic.
_TOPIC_STOP = frozenset(
    "that this with from have were their they will about said says after into more over than"
    " been which what when there would also could your just like some other them then only"
    " most year years news".split())


def says_a_topic(word: str) -> bool:
    """Whether a lower-cased Latin word of four letters or more says a topic: not a number
    and not one of `_TOPIC_STOP`."""
    return word not in _TOPIC_STOP and not word.isdigit()


def long_words(text: str) -> list[str]:
    """A text's Latin words of four letters or more, lower-cased, and its Chinese character
    pairs, with repeats: `topic_words` before the stop words and numbers are left out."""
    lowered = text.lower()
    ascii_only = lowered.isascii()  # most texts: no Chinese to set apart
    words = _LONG_WORD.findall(lowered if ascii_only else CJK.sub(" ", lowered))
    if ascii_only:
        return words
    return words + cjk_pairs(lowered)


def cjk_pairs(text: str) -> list[str]:
    """Each Chinese character of the text with the next, run by run (with repeats): the
    detector's Chinese "words" (map: the pairs are made in C)."""
    pairs: list[str] = []
    for run in _CJK_RUN.findall(text):
        pairs += map(str.__add__, run[:-1], run[1:])
    return pairs


def topic_words(text: str) -> list[str]:
    """The words that say what a text is about: Latin words of four letters or more that are
    not numbers or `_TOPIC_STOP`, and Chinese character pairs (with repeats, to be counted;
    no pair is a number or a stop word). Detection reads them through `_body_words`,
    `ascii_words` and `other_words`, which tests hold to this."""
    return [word for word in long_words(text) if says_a_topic(word)]

# What says related, popular and navigation: a text says one if any of its patterns is found.
# Every word of a pattern that is searched for begins with a letter (so `\bli[ée]s\b` is
# written `l(?<!\wl)i[ée]s\b`, and the latest-headlines heading, anchored, is a pattern of
# its own): then the regex engine skips to the possible first letters instead of trying each
# word at each character, half the time of a search on the labelled pages' headings and
# class words; and `one_of` groups the words by that letter.
SAYS_PATTERNS = ((RELATED_WORDS,), (POPULAR_WORDS, LATEST_HEADING), (NAV_WORDS,))
# The same patterns, case-sensitive, for ASCII text lower-cased: they find the same there (a
# test holds it), and without re.I the engine can skip so (a fifth of the time).
_SAYS_LOWER_CASE = tuple(tuple(re.compile(pattern.pattern) for pattern in patterns)
                         for patterns in SAYS_PATTERNS)


@lru_cache(maxsize=8192)
def says(text: str) -> tuple[float, float, float]:
    """Whether a heading or the class words speak of related, popular or navigation links."""
    if text.isascii():  # nine texts in ten
        text, ((related,), (popular, latest), (nav,)) = text.lower(), _SAYS_LOWER_CASE
    else:
        text, ((related,), (popular, latest), (nav,)) = fold(text), SAYS_PATTERNS
    return (float(bool(related.search(text))),
            float(bool(popular.search(text) or latest.search(text))),
            float(bool(nav.search(text))))


def headline_words(text: str) -> float:
    """Words in a link text, a Chinese character counting as half a word."""
    if text.isascii():  # no Chinese to set apart
        return float(len(_WORD.findall(text)))
    return len(_WORD.findall(CJK.sub(" ", text))) + len(CJK.findall(text)) / 2


def ascii_words(text: str, title_words: frozenset[str], body_words: frozenset[str]
                 ) -> tuple[float, int, bool]:
    """For ASCII text, `headline_words(text)`, `len(title_words(text) & title_words)` and
    whether `topic_words(text)` meets `body_words`, from one split (a test holds them equal):
    ASCII text has the same words lower-cased, and none of them Chinese. Most link texts are
    ASCII, and this is per link. The words are looked up as they are, in C: of `title_words`
    (`title_words`') and `body_words` (topic words, `_body_words`'), only Chinese character
    pairs are shorter than a title or topic word, and every body word says a topic."""
    words = _WORD.findall(text.lower())
    shared = len(title_words.intersection(words)) if title_words else 0
    return float(len(words)), shared, not body_words.isdisjoint(words)


def other_words(text: str, title_words: frozenset[str], body_words: frozenset[str]
                 ) -> tuple[float, int, bool]:
    """For text that is not all ASCII (three link texts in ten on the labelled pages, most of
    them Chinese), what `ascii_words` gives for ASCII text: `headline_words(text)`, and the
    title and topic words from one lower-casing and one split of its Latin words and of its
    Chinese runs, not one each for `title_words` and `topic_words` (a test holds them
    equal); its Latin words are looked up as they are, as in `ascii_words`. The headline
    words are those of the text as written: only `İ` lower-cases into more than one character
    (`i` and a combining dot, splitting a word), and every other keeps whether it is a word
    character and whether it is Chinese (a test holds both), so a text as long lower-cased
    has as many of both."""
    lowered = text.lower()
    latin, chinese = CJK.subn(" ", lowered)
    latin_words = _WORD.findall(latin)
    words = latin_words + cjk_pairs(lowered)
    shared = len(title_words.intersection(words)) if title_words else 0
    headline = (len(latin_words) + chinese / 2 if len(lowered) == len(text) else
                headline_words(text))
    return headline, shared, not body_words.isdisjoint(words)
