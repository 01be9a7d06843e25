"""The block detector's rules on small pages made for each: what is never followed whatever the
model says (a list introduced as most-read or trending, a heading that says nothing but
"Latest posts", a ranked list) and what the rules decide around the model (a list named
"Related News", a column of lists, a card standing for its grid, a list scored whole
standing for the piece of it followed). The detector on real pages
is tested in `tests/test_blocks.py`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import pytest

from collectors.block_features import described
from collectors.block_model import KINDS, BlockModel, default_model, judge, scored_blocks
from collectors.pages import find_related_links, parse_html


@pytest.mark.parametrize("heading", ["Trending News", "Most Read", "热门排行", "Recent Posts",
                                     "Neueste Beiträge", "Les dernières actualités",
                                     "À la une", "주요기사"])
def test_a_list_introduced_as_most_read_or_trending_is_never_followed(heading: str) -> None:
    """The same list of headlines set in the article's body is followed under "Related
    Stories" and never under a most-read or trending heading (the model alone followed
    both: scores 0.76-0.94)."""
    items = "".join(f'<li><a href="/2019/11/{i}/story-number-{i}-about-chips">Story number {i}'
                    " about the chip export rules and more</a></li>" for i in range(5))

    def page(title: str) -> Any:
        return parse_html(
            "<html><head><title>Chip export rules tighten</title></head><body><article>"
            f"<p>{'Text about chips. ' * 100}</p><section class='content-recirculation'>"
            f"<h2>{title}</h2><ul>{items}</ul></section><p>{'More text. ' * 50}</p>"
            "</article></body></html>")

    url = "https://x.com/2019/11/9/the-article-about-chips"
    assert [b.followed for b in scored_blocks(page("Related Stories"), url)] == [True]
    [block] = scored_blocks(page(heading), url)
    assert (block.kind, block.followed) == ("popular", False)
    assert find_related_links(page(heading), url) == []


@pytest.mark.parametrize(("heading", "popular"), [
    ("Recent Posts", True), ("TheLatest Headlines", True), ("Latest Exclusives", True),
    ("LATEST ATP NEWS", False), ("Tennis latest", False),
    ("Latest posts by Brian Jackson", False), ("Ses derniers articles", False)])
def test_a_heading_says_latest_for_the_whole_site_only_when_it_says_nothing_else(
        heading: str, popular: bool) -> None:
    """"Latest posts" or "Recent headlines" as the whole heading is the site's newest stories
    (a popular list); with a topic or an author ("Tennis latest", "… by Brian Jackson") it
    may be the article's own."""
    assert bool(features_under(heading)["heading_popular"]) is popular


def features_under(heading: str) -> dict[str, float]:
    """The features of a three-link list under `heading`."""
    items = "".join(f'<li><a href="/2019/11/{i}/story-{i}">Story {i}</a></li>' for i in range(3))
    tree = parse_html(f"<html><body><div><h3>{heading}</h3><ul>{items}</ul></div></body></html>")
    [(_, feats)] = described(tree, "https://x.com/2019/11/9/the-article")
    return feats


def shipped_model_at(threshold: float) -> BlockModel:
    """The shipped detector, following from `threshold` (0: every block by the model's own
    verdict; over 1: none, so that only the rules decide)."""
    model = default_model()
    assert model is not None
    return dataclasses.replace(model, threshold=threshold)


@dataclasses.dataclass(frozen=True)
class ScoredByLinks(BlockModel):
    """A detector whose score for a block is set by how many links it holds (`scores`; 0 for
    any other count): the rules around the model, seen with scores chosen for the test."""

    scores: dict[int, float] = dataclasses.field(default_factory=dict)

    def probabilities(self, rows: list[dict[str, float]]) -> np.ndarray:
        out = np.zeros((len(rows), len(KINDS)))
        for i, feats in enumerate(rows):
            related = self.scores.get(round(feats["links"] * 60), 0.0)
            out[i, KINDS.index("related")], out[i, KINDS.index("other")] = related, 1 - related
        return out


@pytest.mark.parametrize(("ranks", "in_link", "followed"), [
    (["1", "2", "3", "4"], False, False), (["1.", "2.", "3.", "4."], True, False),
    (["", "", "", ""], False, True), (["1", "2", "4", "5"], False, True),
    (["10", "11", "12", "13"], True, True)])
def test_a_ranked_list_is_never_followed(ranks: list[str], in_link: bool, followed: bool
                                         ) -> None:
    """With every block over the model's threshold, a list whose first three items or links
    begin with 1, 2 and 3 (a most-read list's ranks) is still not followed; other numbers
    are no rank."""
    def item(i: int, rank: str) -> str:
        text = f"Story number {i} about the chip export rules"
        link = f'<a href="/2019/11/{i}/story-{i}">{f"{rank} " if in_link else ""}{text}</a>'
        return f"<li>{link}</li>" if in_link else f"<li><span>{rank}</span>{link}</li>"

    items = "".join(item(i, rank) for i, rank in enumerate(ranks))
    tree = parse_html(f"<html><body><article><p>{'Text. ' * 300}</p></article>"
                      f"<div><h3>Stories</h3><ul>{items}</ul></div></body></html>")
    everything = shipped_model_at(threshold=0.0)
    [block] = judge(described(tree, "https://x.com/2019/11/9/the-article"), everything)
    assert block.followed is followed
    if not followed:
        assert block.kind == "popular"


@pytest.mark.parametrize(("heading", "named"), [
    ("相关推荐", True), ("相关内容：", True), ("相关新闻", True), ("Related Stories", True),
    ("热点推荐", False), ("You may also like", False)])
def test_a_list_named_related_is_followed_whatever_the_model_says(heading: str, named: bool
                                                                   ) -> None:
    """With the model's threshold out of reach, only the heading rule follows a block: a list
    of the site's headlines under 相关推荐 or another "Related News" name, not under a softer or a
    popular heading."""
    items = "".join(f'<li><a href="/a/2019/11/{i}/story-{i}.html">第{i}条新闻：芯片出口管制再收紧'
                    "</a></li>" for i in range(40))
    tree = parse_html(f"<html><body><article><p>{'正文。' * 300}</p></article>"
                      f"<div><h3>{heading}</h3><ul>{items}</ul></div></body></html>")
    unreachable = shipped_model_at(threshold=1.01)
    [block] = judge(described(tree, "https://www.guancha.cn/a/2019/11/9/story.html"), unreachable)
    assert block.followed is named


@pytest.mark.parametrize(("lists", "followed"), [(2, True), (3, False)])
def test_a_column_of_lists_is_not_followed_as_one_list(lists: int, followed: bool) -> None:
    """A block named "Related Stories" is followed by the heading rule alone, unless it holds
    three or more lists of its own (a section front's column of per-region lists)."""
    def region(name: str) -> str:
        items = "".join(f'<li><a href="/2019/11/{name}-{i}/story-{i}">{name} story {i} about '
                        "the chip export rules</a></li>" for i in range(4))
        return f"<section><h3>{name}</h3><ul>{items}</ul></section>"

    regions = "".join(region(name) for name in ("Asia", "Europe", "Africa")[:lists])
    tree = parse_html(f"<html><body><article><p>{'Text. ' * 300}</p></article>"
                      f"<div><h2>Related Stories</h2>{regions}</div></body></html>")
    unreachable = shipped_model_at(threshold=1.01)
    verdicts = judge(described(tree, "https://x.com/2019/11/9/the-article"), unreachable)
    [column] = [block for block in verdicts if block.candidate.heading == "Related Stories"]
    assert len(verdicts) == lists + 1
    assert column.followed is followed
    assert not any(block.followed for block in verdicts if block is not column)


@pytest.mark.parametrize(("cards", "alike", "whole_list"),
                         [(3, True, True), (2, True, False), (3, False, False)])
def test_a_card_followed_with_its_list_stands_for_the_list(cards: int, alike: bool,
                                                           whole_list: bool) -> None:
    """The first card of a "Related Stories" grid takes the grid's heading, so the heading
    rule follows both; the grid is followed in the card's place when it holds three or more
    alike cards, else the innermost choice keeps the card (and drops the others' links). The
    card scores above the grid here, so that the grid is not followed as a list scored
    whole (`test_a_list_scored_whole_is_followed_in_place_of_its_first_item`)."""
    def card(i: int) -> str:
        shape = "card" if alike or i == 0 else f"card-{i}"
        return (f'<div class="{shape}"><a href="/2019/11/{i}/story-{i}"><img src="x.jpg"></a>'
                f'<a href="/2019/11/{i}/story-{i}-more">Story {i} about chip exports</a></div>')

    tree = parse_html(f"<html><body><article><p>{'Text. ' * 300}</p></article><section>"
                      f"<h2>Related Stories</h2><div class='list'>"
                      f"{''.join(card(i) for i in range(cards))}</div></section></body></html>")
    shipped = default_model()
    assert shipped is not None
    card_first = ScoredByLinks(shipped.pipeline, 1.01, "test", scores={2: 0.2, 2 * cards: 0.1})
    verdicts = judge(described(tree, "https://x.com/2019/11/9/the-article"), card_first)
    [followed] = [block for block in verdicts if block.followed]
    assert len(followed.candidate.links) == (2 * cards if whole_list else 2)


@pytest.mark.parametrize(("list_score", "whole_list"), [(0.9, True), (0.6, True), (0.5, False)])
def test_a_list_scored_whole_is_followed_in_place_of_its_first_item(list_score: float,
                                                                     whole_list: bool) -> None:
    """BBC Chinese's related list: items of three shapes, the first with a link more. When
    the list scores at least as high as the one item followed inside it, which holds under
    half of its links, the whole list is followed; else the innermost choice keeps the
    item and drops the rest."""
    def item(i: int, shape: str) -> str:
        extra = '<a href="/zhongwen/simp/topics/audio">音频</a>' if i == 0 else ""
        return (f'<li class="{shape} teaser"><a href="/zhongwen/simp/2012/12/story-{i}.shtml">'
                f'香港特首就违建事件第{i}次道歉</a><a href="/zhongwen/simp/topics/t{i}">香港</a>'
                f"{extra}</li>")

    shapes = ["ts-headline first", "ts-headline", "ts-headline ts-audio", "ts-headline"]
    items = "".join(item(i, shape) for i, shape in enumerate(shapes))
    tree = parse_html(f"<html><body><article><p>{'正文。' * 300}</p></article>"
                      f"<div><h3>相关内容</h3><ul>{items}</ul></div></body></html>")
    shipped = default_model()
    assert shipped is not None
    model = ScoredByLinks(shipped.pipeline, 0.3, "test", scores={9: list_score, 3: 0.6})
    verdicts = judge(described(tree, "https://www.bbc.co.uk/zhongwen/simp/2012/12/a.shtml"),
                     model)
    followed = {url for block in verdicts if block.followed for url, _ in block.candidate.links}
    first_item = {f"https://www.bbc.co.uk/zhongwen/simp/{path}" for path in (
        "2012/12/story-0.shtml", "topics/t0", "topics/audio")}
    assert len(followed) == (9 if whole_list else 3)
    assert first_item <= followed
