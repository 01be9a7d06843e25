"""Text: the one CJK test and the one tokenizer for Chinese and English.

Used by the classifier's features and term counts, the narratives and digest terms, search and
the near-duplicate shingles, so that a word means the same thing everywhere. Chinese has no
spaces: it is segmented into words by jieba's dictionary and algorithm through `rjieba`
(jieba-rs): the same Chinese words as jieba, about 20× faster, 0.1 s to load.
`bench/tokenizer_bench.py` prints jieba, rjieba and jieba_fast_dat side by side (the last one
splits common words such as 人工智能 and 里程碑 wrongly, so it was dropped). The vocabulary's
Chinese terms are added to the dictionary so that 昇腾 or 大模型 stay one word.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path
from typing import Any

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Runs of letters and digits: hyphens and dots split (`open-source` = `open source`, `01.ai` =
# `01 ai`); term lists match such sequences, and English shingles stay as they always were.
_WORD = re.compile(r"\w+")

# Words too common to tell one period or story from another, English and Chinese.
STOPWORDS = frozenset("""a an and are as at be by for from has have had in is it its of on or
that the to was were will with this these those their they them said says say new more than
also after over into about but not can could would should may might been who what which when
where how all one two his her our out up year years week time first last just like
other some such only most many much very there here we you he she i us do does did so if no
的 了 在 是 和 与 及 等 也 都 而 就 对 将 从 被 把 为 以 于 中 上 下 个
这 那 其 之 或 并 但 还 已 由 一个 我们 他们 它们 以及 进行 表示 认为
目前 已经 可以 没有 因为 所以 如果 这些 那些 一些 通过 相关""".split())


# Words of any script but Chinese, so that "华为AI" still yields "ai" without segmenting.
_NON_CJK_WORD = re.compile(r"[^\W\u3400-\u9fff\uf900-\ufaff]+")
# Where sentences end (English and Chinese punctuation, line breaks).
_SENTENCE_END = r"[.!?]+(?=\s)|[。！？；]+|\n+"
SENTENCE_END = re.compile(_SENTENCE_END)
# A text ends with a sentence end only after one of these (a full stop needs a space after it).
TEXT_END_MARKS = ("。", "！", "？", "；", "\n")
# Latin words, and sentence ends as empty matches: both in one C-level pass.
_WORD_OR_END = re.compile(f"({_NON_CJK_WORD.pattern})|{_SENTENCE_END}")


# UTF-8 lead bytes of the CJK ranges above (U+3400-U+9FFF: E3-E9, U+F900-U+FAFF: EF).
_CJK_LEAD_BYTES = (b"\xe3", b"\xe4", b"\xe5", b"\xe6", b"\xe7", b"\xe8", b"\xe9", b"\xef")


def has_cjk(text: str) -> bool:
    """True when the text holds at least one CJK character.

    Most texts have none, and the regex walks every character of a long article to say so
    (issue 18: 7 % of classification). A text without the UTF-8 lead bytes of a CJK character
    cannot hold one; encoding and `in` are memory scans, several times faster.
    """
    if text.isascii():
        return False
    encoded = text.encode("utf-8", "surrogatepass")
    if not any(lead in encoded for lead in _CJK_LEAD_BYTES):
        return False
    return CJK.search(text) is not None


def count_cjk(text: str) -> int:
    """How many CJK characters the text holds."""
    return len(CJK.findall(text))


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import rjieba  # loaded on first Chinese text only

    from common.vocabulary import load_terms

    # rjieba builds a segmenter of its dictionary when imported, and its module functions
    # (cut, cut_for_search, add_word) are that segmenter's: it is ours, with the term lists
    # added. A second `rjieba.Jieba()` built the same dictionary again, 0.1 s of CPU in
    # each process that meets Chinese (a collection pass's writing process, issue 18).
    segmenter: Any = rjieba
    for terms in load_terms().values():
        for term in terms:
            if has_cjk(term):
                segmenter.add_word(term, None, None)
    return segmenter


def words(text: str) -> list[str]:
    """Lower-cased word tokens: Latin words as they stand, Chinese segmented into words."""
    lowered = text.lower()
    if not has_cjk(lowered):
        return _WORD.findall(lowered)
    out: list[str] = []
    # One segmenter call per text (it splits at punctuation and spaces itself); what it
    # gives outside Chinese is re-split by the Latin rule, so both paths agree on it.
    for token in _segmenter().cut(lowered, True):  # True: jieba's HMM for unknown words
        if "\u3400" <= token[0] <= "\u9fff" or "\uf900" <= token[0] <= "\ufaff":
            out.append(token)  # the segmenter keeps Chinese runs apart from anything else
        elif token.isalnum():  # a whole Latin word or number: what `_WORD` would find
            out.append(token)
        elif not token.isspace() and (len(token) > 1 or token == "_"):
            out.extend(_WORD.findall(token))  # mixed, e.g. "gpt-4": split as Latin text
    return out


def index_words(text: str) -> list[str]:
    """What the search index holds for a text with Chinese: `words` in order (phrases match
    on it), then the shorter dictionary words inside long ones (jieba's search mode), so
    that 千问 finds 通义千问 and 模型 finds 大模型. Empty for a text without Chinese: the
    databases' own tokenizers split it the way `words` does.
    """
    lowered = text.lower()
    if not has_cjk(lowered):
        return []
    primary = words(lowered)
    seen = set(primary)
    extra: list[str] = []
    for token in _segmenter().cut_for_search(lowered, True):
        if token not in seen and has_cjk(token):
            seen.add(token)
            extra.append(token)
    return primary + extra


def latin_word_list(lowered: str) -> list[str]:
    """Every non-Chinese word of an already lower-cased text, Chinese left out unsegmented.

    For matching term lists (Chinese terms are found as substrings, so nothing here needs
    the segmenter); `words` is the tokenizer for everything else.
    """
    return _NON_CJK_WORD.findall(lowered)


@lru_cache(maxsize=512)
def latin_words_and_ends(lowered: str) -> tuple[str, ...]:
    """`latin_word_list` with an empty string where each sentence ends (`sentence_ends`).

    Remembered for one batch (tagging classifies 500 at a time): the term profile and the
    classifier's words of one article both read it.
    """
    return tuple(_WORD_OR_END.findall(lowered))


def sentence_ends(text: str) -> list[int]:
    """Offsets where the text's sentences end; the last one is the text's length."""
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    return ends


COMMON_WORDS_FILE = Path(__file__).resolve().parent / "common_words.txt"


@lru_cache(maxsize=1)
def common_words() -> frozenset[str]:
    """Words of everyday news prose ("including", "nearly", 表示): never news in themselves
    (`bench/make_common_words.py` says how the list is made)."""
    if not COMMON_WORDS_FILE.exists():
        return frozenset()
    return frozenset(line.strip() for line in COMMON_WORDS_FILE.read_text(encoding="utf-8")
                     .splitlines() if line.strip() and not line.startswith("#"))


def content_words(text: str, min_latin: int = 3) -> list[str]:
    """`words` without stopwords, numbers and Latin words shorter than `min_latin` letters."""
    return [w for w in words(text)
            if w not in STOPWORDS and not w.replace(".", "").isdigit()
            and (has_cjk(w) and len(w) > 1 or len(w) >= min_latin and w[0].isalpha())]
