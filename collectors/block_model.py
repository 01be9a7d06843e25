"""The Related-News block detector: which candidate blocks (`collectors.blocks`) to follow.

It reads each candidate's features (`collectors.block_features`).

A scikit-learn model learned from hand-labelled pages (`collectors/anchors/blocks.jsonl`: the
features of every candidate block of every labelled page, and its kind: related, inline,
popular, nav or other; `bench/blocks_data.py` makes it from `bench/data/blocks/`). It is
trained from that file on first use in each process (about a second, deterministic) rather
than shipped as a pickle, so it works with whatever scikit-learn is installed; the version is
a hash of the data and parameters. Related and inline blocks are followed; popular lists and
navigation never are. `collectors.pages.find_related_links` follows what it chooses;
`cait inspect` shows every candidate with its kind and score.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from itertools import repeat
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from collectors.block_features import described
from collectors.blocks import Candidate

if TYPE_CHECKING:  # scikit-learn is imported when the detector is first trained, not before:
    from sklearn.pipeline import Pipeline  # a pass with no page to read never needs it

DATA = Path(__file__).resolve().parent / "anchors" / "blocks.jsonl"
KINDS = ("related", "inline", "popular", "nav", "other")
FOLLOWED = ("related", "inline")
# The follow threshold is low because the model is fitted unweighted: related lists are a few
# percent of the candidates, and unweighted their probabilities stay small (classes weighted
# to balance and followed at 0.5: link F1 0.685 against 0.696-0.698, popular links followed
# 438 against 308-329; seventh session).
# Current evidence, 534 labelled pages, two sets of ten shuffled cross-validations by site
# (link F1 on all pages, on the scrapinghub pages, popular links followed): C 0.35 at 0.3
# 0.689 / 0.700, 0.848 / 0.830, 267 / 290; C 0.5 at 0.3 0.688 / 0.702, 0.841 / 0.829,
# 283 / 298; C 1 at 0.3 0.689 / 0.700, 0.826 / 0.826, 296 / 309; C 0.5 at 0.25 0.714 / 0.715,
# 0.832 / 0.830, 363 / 379 (more F1 only by following more popular links). With the
# fourteenth session's rules (`wraps_popular`, `ranked_list`, whole "Latest …" headings), five
# shuffles, thresholds 0.27 / 0.3 / 0.33 / 0.36: all pages 0.714 / 0.705 / 0.688 / 0.670,
# popular links followed 257 / 221 / 188 / 165; 0.3 kept. The earlier settings and their
# figures are in bench/README.md, section by section.
PARAMS: dict[str, Any] = {"c": 0.35, "threshold": 0.3}


def build_pipeline(c: float) -> Pipeline:
    """Unfitted: candidate features (a dict each) → one multinomial logistic regression,
    unweighted, with inverse regularisation `c` (`PARAMS` gives the value and says why)."""
    from sklearn.feature_extraction import DictVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([
        ("features", DictVectorizer()),
        ("classify", LogisticRegression(C=c, max_iter=3000)),
    ])


@dataclass(frozen=True)
class BlockModel:
    """A fitted detector: the pipeline, the follow threshold and its version."""

    pipeline: Pipeline
    threshold: float
    version: str

    def probabilities(self, rows: list[dict[str, float]]) -> np.ndarray:
        """Per candidate a row, the probability of each kind a column, in `KINDS` order (0 for
        a kind the training data lacked).

        The pipeline's own `predict_proba` spends most of its time in DictVectorizer's
        per-call checks; this computes the same softmax of the same linear model straight
        from the fitted vocabulary and weights (a test holds the two equal). Each row's logits
        add up the weights of its features one after another in the row's order, as the
        sparse product did (the same sums to the last bit), without making a sparse matrix for
        some forty rows a page.
        """
        vocabulary, weights, intercept, kind_columns = self._linear
        classes = len(intercept)
        names: list[str] = []
        values: list[float] = []
        for feats in rows:
            names += feats
            values += feats.values()
        # each feature's column (-1 if the model never saw it) and its row; only the known,
        # non-zero features count, in the order of their row
        columns = np.fromiter(map(vocabulary.get, names, repeat(-1, len(names))), np.intp,
                              len(names))
        owners = np.repeat(np.arange(len(rows)), [len(feats) for feats in rows])
        numbers = np.array(values, dtype=float)
        kept = (columns >= 0) & (numbers != 0)
        # each weighted feature, a class a column; one bincount adds up each (row, class) in
        # the order of the row's features (a bin per row and class)
        terms = weights[columns[kept]] * numbers[kept, None]
        bins = (owners[kept] * classes)[:, None] + np.arange(classes)
        # (not added in place: with no known feature at all bincount's sums are integers)
        logits = np.bincount(bins.ravel(), weights=terms.ravel(),
                             minlength=len(rows) * classes).reshape(len(rows), classes) + intercept
        logits -= logits.max(axis=1, keepdims=True)
        probabilities = np.exp(logits)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
        by_kind = np.zeros((len(rows), len(KINDS)))
        for kind, column in enumerate(kind_columns):
            if column is not None:
                by_kind[:, kind] = probabilities[:, column]
        return by_kind

    @cached_property
    def _linear(self) -> tuple[dict[str, int], np.ndarray, np.ndarray, list[int | None]]:
        """The fitted vocabulary, the weights (a row per feature, a column per class), the
        intercepts, and each kind's class column in `KINDS` order (None for a kind the
        training data lacked): read once per model, not per page."""
        classify = self.pipeline.named_steps["classify"]
        classes = [str(c) for c in classify.classes_]
        return (self.pipeline.named_steps["features"].vocabulary_,
                np.ascontiguousarray(classify.coef_.T), classify.intercept_,
                [classes.index(kind) if kind in classes else None for kind in KINDS])


def follow_scores(probabilities: np.ndarray) -> list[float]:
    """How likely each block is one whose links are followed (related or inline): the sum of
    those kinds' probabilities (`BlockModel.probabilities`' rows)."""
    scores = np.zeros(len(probabilities))
    for kind in FOLLOWED:
        scores += probabilities[:, KINDS.index(kind)]
    return list(scores.tolist())


def load_rows(path: Path = DATA) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip()]


def fit(rows: list[dict[str, Any]], params: dict[str, Any] | None = None) -> BlockModel:
    """Train on labelled candidate rows ({features, kind, …})."""
    from threadpoolctl import threadpool_limits

    p = {**PARAMS, **(params or {})}
    # One BLAS thread: the fit is small, and with threads it took 25× the CPU on a busy
    # two-core machine (0.5 s against 12.7 s), in every parser process that trains it.
    with threadpool_limits(limits=1):
        pipeline = build_pipeline(p["c"]).fit([r["features"] for r in rows],
                                              [r["kind"] for r in rows])
    digest = hashlib.sha256(json.dumps([p, [(r["features"], r["kind"]) for r in rows]],
                                       sort_keys=True).encode()).hexdigest()
    return BlockModel(pipeline, p["threshold"], f"blocks-{digest[:12]}")


@lru_cache(maxsize=1)
def default_model() -> BlockModel | None:
    """The detector trained from the committed labelled blocks (None if there are none).

    Fitting takes about two seconds, in every parser process; the fitted detector is kept
    in the model directory (`CAIT_MODEL_DIR`) under a name made of the data's hash and the
    scikit-learn version, so later processes load it in milliseconds and a change of either
    trains it again. A directory that cannot be written only costs the fitting.
    """
    if not DATA.exists():
        return None
    import joblib
    import sklearn

    from config import load_settings

    digest = hashlib.sha256(DATA.read_bytes() + json.dumps(PARAMS, sort_keys=True).encode())
    version = f"blocks-{digest.hexdigest()[:12]}"
    path = load_settings().effective_model_dir / f"{version}-sklearn{sklearn.__version__}.joblib"
    try:
        cached = joblib.load(path)
    except Exception:  # missing, unreadable or from other code: fit again
        cached = None
    if isinstance(cached, BlockModel) and cached.version == version:
        return cached
    fitted = fit(load_rows())
    model = BlockModel(fitted.pipeline, fitted.threshold, version)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(f".{os.getpid()}.tmp")
        joblib.dump(model, partial)
        partial.replace(path)  # atomic: a parallel process reads the old file or the new
    except OSError:
        pass
    return model


@dataclass(frozen=True)
class ScoredBlock:
    """A candidate block with the detector's verdict: its follow score, whether it is
    followed, and its kind (the likeliest of those that agree with that: `_kind`)."""

    candidate: Candidate
    kind: str
    score: float          # probability that its links are followed (related or inline)
    followed: bool


# The headings the rule trusts: "Related News" and its kin by name, not the softer "You may
# also like", "Read more" or "More from …", which on the labelled pages often stand beside a
# menu or an empty widget rather than over the list that follows them. 相关推荐 ("related
# recommendations") alone over links to the page's own site heads 8 candidates on the 378
# labelled pages: 7 are the related block (guancha, thepaper, toutiao; guancha's 50-link lists
# scored about 0.2 by the model on unseen sites), the 8th a wrapper around one (qq). 相关内容
# ("related content") heads BBC Chinese's related list and a piece of it.
NAMED_RELATED = re.compile(
    r"^\s*(related (news|articles?|stories|coverage|content|posts)|相关新闻|相關新聞|相关阅读"
    r"|相關閱讀|相关文章|相關文章|相关报道|相關報導|延伸阅读|延伸閱讀|相关推荐|相關推薦|相关内容"
    r"|相關內容)\s*[:：]?\s*$", re.I)


def named_related(candidate: Candidate, feats: dict[str, float]) -> bool:
    """Links to the page's own site under a heading that is nothing but "Related News" or its
    kin (`NAMED_RELATED`): the first release's rule, kept for what it is sure of. (Asking
    also that the links read as headlines changed nothing on the labelled pages once the
    heading had to be one of these names: F1 0.628 against 0.626 over five shuffled
    cross-validations.)"""
    return bool(NAMED_RELATED.match(candidate.heading)) and feats["same_site"] >= 0.5


def introduced_as_popular(feats: dict[str, float]) -> bool:
    """A list whose heading, the text just before it or its class words say most-read,
    trending or popular (`block_words.POPULAR_WORDS`), and none of them says related: such
    lists are never followed, whatever else they look like. On the 325 labelled pages, 1 of the 370
    candidates this names is a related block (3 links); the model alone followed several of
    them, e.g. a "Trending News" list set inside an article's body."""
    if feats.get("heading_related"):
        return False
    return bool(feats.get("heading_popular")
                or (feats.get("marker_popular") and not feats.get("marker_related"))
                or (feats.get("before_popular") and not feats.get("before_related")))


# A list item or a link text that begins with its rank: "1 ", "2.", "3、" (or the number alone)
_RANK = re.compile(r"\s*(\d{1,2})(?:[\s.、)]|$)")


def ranked_list(candidate: Candidate) -> bool:
    """Whether the block's first three links, or the first three of its items, begin with 1,
    2 and 3: a ranked list, as most-read lists are, never followed whatever its heading. Of
    the 19,878 candidates of the 534 labelled pages, 124 are ranked: 92 popular, 28 other,
    4 navigation, none related or inline. Five shuffled cross-validations: popular links
    followed 261 -> 243, link F1 0.696 -> 0.699 (fourteenth session); sparing the lists
    whose heading says related, 248 and 0.698."""
    if _ranks(text for _, text in candidate.links):
        return True
    return _ranks(_first_text(child) for child in candidate.element if child.tag in _ITEM_TAGS)


_ITEM_TAGS = frozenset({"li", "div", "article"})


def _ranks(texts: Iterator[str]) -> bool:
    """Whether the first three texts begin with 1, 2 and 3, read one by one (most lists show
    at the first that they are not ranked)."""
    for rank in (1, 2, 3):
        found = _RANK.match(next(texts, ""))
        if found is None or int(found.group(1)) != rank:
            return False
    return True


def _first_text(element: Any) -> str:
    """The first text in the element that is not white space (its rank, if it has one)."""
    return next((text for text in element.itertext() if text.strip()), "")


def wraps_popular(candidate: Candidate, popular: list[Candidate]) -> bool:
    """Whether half or more of the block's links lie in a list inside it that is introduced as
    most-read or trending or is ranked (`popular`: `introduced_as_popular`, `ranked_list`): a
    box around such a list and a link or two beside it ("Keep up to date": Subscribe, then
    "Most popular"). The list itself is never followed, and the box must not be followed in
    its place. Five shuffled cross-validations (fourteenth session): on the scrapinghub
    pages link F1 0.844 -> 0.856 and page accuracy 0.896 -> 0.915; popular links followed
    269 -> 260; all pages 0.674 both."""
    links = {url for url, _ in candidate.links}
    return any(_lies_in(inner.element, candidate.element)
               and 2 * len(links.intersection(url for url, _ in inner.links)) >= len(links)
               for inner in popular)


def _lies_in(element: Any, outer: Any) -> bool:
    """Whether `element` lies inside `outer` (never inside itself)."""
    return any(ancestor is outer for ancestor in element.iterancestors())


# A block that holds this many lists of its own, each a candidate of at least `LIST_LINKS`
# links, is a column of lists (a section front's "World" column of twelve six-link lists),
# not one list of related stories. Of the 16,826 labelled candidates, 2,538 hold three such
# lists: 10 are related blocks, 70 popular, the rest navigation and other. Counting lists of
# three links would also take in the Chinese 50-60-link related feeds, whose items are such
# lists (link F1 0.604 against 0.698, five shuffled cross-validations); from four links up to
# six and with two to four lists held, the figures do not move (0.695-0.696).
LISTS_HELD = 3
LIST_LINKS = 4


def holds_lists(candidate: Candidate, found: list[tuple[Candidate, dict[str, float]]]) -> bool:
    """Whether the block holds `LISTS_HELD` or more other candidates of `LIST_LINKS` links."""
    element = candidate.element
    held = 0
    for other, _ in found:
        if len(other.links) >= LIST_LINKS and _lies_in(other.element, element):
            held += 1
            if held >= LISTS_HELD:
                return True
    return False


# A followed block that is one item of a list of at least this many alike items (the same tag
# and class, each holding a link), when that list is followed too, stands for the list: the
# innermost choice would otherwise keep one card or one column of a related grid and drop
# the rest (a cityam grid's first card, which takes the grid's heading; latimes' promo items).
# Five shuffled cross-validations: link F1 0.695 -> 0.705, popular links followed 272 -> 245,
# scrapinghub pages 0.754 -> 0.770; with two alike items 0.702 (page accuracy 0.838 ->
# 0.833), with the item no deeper than three levels below the list 0.704.
ALIKE_ITEMS = 3


def _shapes(outer: Any) -> Counter[tuple[Any, str]]:
    """How many children of `outer` that hold a link have each tag and class (a comment's or
    a processing instruction's tag is not a string, so it is alike with no element)."""
    return Counter((child.tag, (child.get("class") or "").strip()) for child in outer
                   if child.tag == "a" or next(child.iter("a"), None) is not None)


def _stand_ins(outer_of: dict[Any, Any]) -> set[Any]:
    """The followed elements that lie in one of `ALIKE_ITEMS` or more alike children of a
    followed block around them (`outer_of`: each followed element's nearest followed
    ancestor): that block is followed in their place. Each block's children are counted once
    (a hostile page's 400 candidates under one list of 10,000 items took 1.3 s when each
    counted them)."""
    items = set()
    shapes: dict[Any, Counter[tuple[Any, str]]] = {}
    for element, outer in outer_of.items():
        child = element
        while (parent := child.getparent()) is not outer:
            child = parent
        if outer not in shapes:
            shapes[outer] = _shapes(outer)
        if shapes[outer][(child.tag, (child.get("class") or "").strip())] >= ALIKE_ITEMS:
            items.add(element)
    return items


def _pieces(outer_of: dict[Any, Any], verdicts: dict[Any, ScoredBlock],
            found: list[tuple[Candidate, dict[str, float]]]) -> set[Any]:
    """The followed elements inside a followed block (`outer_of`) that together hold under half
    of its links, when it scores at least as high as each of them: pieces of a list the model
    sees whole. BBC Chinese's 相关内容 list scores 0.97 and its first item, which takes the
    heading, 0.62; the innermost choice kept two of the nine links. The block is followed in
    their place, unless it is a column of lists (`holds_lists`). Shuffled cross-validations
    by site (sixteenth session), link F1 on all pages: ten, 0.724 -> 0.729, the scrapinghub
    pages and the popular links followed unchanged; five, with the features before the
    headline shares, 0.705 -> 0.711, and asking only for the links' share, not the score,
    0.704 with 245 popular links followed against 223."""
    inner_of: dict[Any, list[Any]] = {}
    for element, outer in outer_of.items():
        inner_of.setdefault(outer, []).append(element)
    pieces = set()
    for outer, inner in inner_of.items():
        block = verdicts[outer]
        links = {url for url, _ in block.candidate.links}
        held = {url for element in inner for url, _ in verdicts[element].candidate.links}
        if (2 * len(held & links) < len(links)
                and block.score >= max(verdicts[element].score for element in inner)
                and not holds_lists(block.candidate, found)):
            pieces.update(inner)
    return pieces


# The places in `KINDS` of the followed kinds, and of the others
_FOLLOWED_AT = tuple(at for at, kind in enumerate(KINDS) if kind in FOLLOWED)
_NOT_FOLLOWED_AT = tuple(at for at, kind in enumerate(KINDS) if kind not in FOLLOWED)


def _kind(probabilities: list[float], followed: bool) -> str:
    """The kind shown with a verdict, so that the two agree: the likelier of related and
    inline for a followed block (one followed at a score of 0.3 may have "popular"
    likeliest of all), else the likeliest of the rest; the first in `KINDS` order on a tie."""
    places = _FOLLOWED_AT if followed else _NOT_FOLLOWED_AT
    return KINDS[max(places, key=probabilities.__getitem__)]  # max keeps the first


def judge(found: list[tuple[Candidate, dict[str, float]]], model: BlockModel
          ) -> list[ScoredBlock]:
    """The verdict on every candidate of one page.

    A block is followed when the model says so or when it is a list of headlines named
    "Related News" (`named_related`); then only the innermost of nested followed blocks is,
    since a wrapper around a related list also holds what stands beside it, unless the inner
    one is an item of the outer list (`_stand_ins`) or a piece of a list scored whole
    (`_pieces`); and never a list introduced as most-read
    or trending (`introduced_as_popular`) or ranked (`ranked_list`), nor a column of lists
    (`holds_lists`). Those last rules come after the innermost choice, so a wrapper around a
    trending list or a column is not followed in its place; nor is a box whose links are
    mostly such a list's (`wraps_popular`).
    """
    if not found:
        return []
    probabilities = model.probabilities([feats for _, feats in found])
    rows = probabilities.tolist()
    verdicts = []
    for (candidate, feats), score, row in zip(found, follow_scores(probabilities), rows,
                                              strict=True):
        followed = score >= model.threshold or named_related(candidate, feats)
        verdicts.append(ScoredBlock(candidate, _kind(row, followed), score, followed))
    chosen = {block.candidate.element for block in verdicts if block.followed}
    outer_of = {element: outer for element in chosen if (outer := next(
        (a for a in element.iterancestors() if a in chosen), None)) is not None}
    items = _stand_ins(outer_of) | _pieces(
        outer_of, {block.candidate.element: block for block in verdicts}, found)
    holders = {ancestor for element in chosen - items for ancestor in element.iterancestors()}
    said_popular = [introduced_as_popular(feats) or ranked_list(candidate)
                    for candidate, feats in found]
    popular = [candidate for (candidate, _), said in zip(found, said_popular, strict=True)
               if said]
    out = []
    for block, said, row in zip(verdicts, said_popular, rows, strict=True):
        if said or (block.followed and wraps_popular(block.candidate, popular)):
            out.append(ScoredBlock(block.candidate, "popular", block.score, False))
        elif block.followed and (block.candidate.element in holders
                                 or block.candidate.element in items
                                 or holds_lists(block.candidate, found)):
            out.append(ScoredBlock(block.candidate, _kind(row, False), block.score, False))
        else:
            out.append(block)
    return out


def scored_blocks(tree: Any, page_url: str) -> list[ScoredBlock]:
    """Every candidate block of a page, in page order, with the detector's verdict."""
    model = default_model()
    return judge(described(tree, page_url), model) if model is not None else []


def followed_blocks(tree: Any, page_url: str) -> list[ScoredBlock]:
    """The blocks whose links are followed, in page order."""
    return [block for block in scored_blocks(tree, page_url) if block.followed]
