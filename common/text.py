"""Text: the one CJK test and the one tokenizer for Chinese and English.

Used by the classifier's features and term counts, the narratives and digest terms, search and
the near-duplicate shingles, so that a word means the same thing everywhere. Chinese has no
spaces: runs of CJK characters are segmented into words by jieba (the `jieba_fast_dat` build,
same dictionary and output as jieba, about 9× faster and 0.05 s to load; `bench/tokenizer_bench.py`
prints both), with the vocabulary's Chinese terms added to its dictionary so that 昇腾 or 大模型
stay one word.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
# Runs of letters and digits: hyphens and dots split (`open-source` = `open source`, `01.ai` =
# `01 ai`); term lists match such sequences, and English shingles stay as they always were.
_WORD = re.compile(r"\w+")
_HAS_WORD = re.compile(r"\w")

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
SENTENCE_END = re.compile(r"[.!?]+(?=\s)|[。！？；]+|\n+")


def has_cjk(text: str) -> bool:
    """True when the text holds at least one CJK character."""
    return CJK.search(text) is not None


def count_cjk(text: str) -> int:
    """How many CJK characters the text holds."""
    return len(CJK.findall(text))


@lru_cache(maxsize=1)
def _segmenter() -> Any:
    import jieba_fast_dat as jieba  # loaded on first Chinese text only

    from common.vocabulary import load_terms

    jieba.setLogLevel(60)  # it logs its dictionary loading at INFO
    for terms in load_terms().values():
        for term in terms:
            if has_cjk(term):
                jieba.add_word(term)
    return jieba


def words(text: str) -> list[str]:
    """Lower-cased word tokens: Latin words as they stand, Chinese segmented into words."""
    lowered = text.lower()
    if not has_cjk(lowered):
        return _WORD.findall(lowered)
    jieba = _segmenter()
    out: list[str] = []
    for token in _WORD.findall(lowered):
        if has_cjk(token):
            out.extend(w for w in jieba.lcut(token, HMM=True) if _HAS_WORD.search(w))
        else:
            out.append(token)
    return out


def latin_word_list(lowered: str) -> list[str]:
    """Every non-Chinese word of an already lower-cased text, Chinese left out unsegmented.

    For matching term lists (Chinese terms are found as substrings, so nothing here needs
    the segmenter); `words` is the tokenizer for everything else.
    """
    return _NON_CJK_WORD.findall(lowered)


def sentence_ends(text: str) -> list[int]:
    """Offsets where the text's sentences end; the last one is the text's length."""
    ends = [m.end() for m in SENTENCE_END.finditer(text)]
    if not ends or ends[-1] < len(text):
        ends.append(len(text))
    return ends


def content_words(text: str, min_latin: int = 3) -> list[str]:
    """`words` without stopwords, numbers and Latin words shorter than `min_latin` letters."""
    return [w for w in words(text)
            if w not in STOPWORDS and not w.replace(".", "").isdigit()
            and (has_cjk(w) and len(w) > 1 or len(w) >= min_latin and w[0].isalpha())]
