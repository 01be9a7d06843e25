"""What names a candidate block (`collectors/blocks.py`): the label of the tab over a list
that has no heading of its own, and class words that say popular only when they mean it (a
Drupal node promoted to the front page is not a sponsored list). Headings and words on real
pages are tested in `tests/test_blocks.py` and `tests/test_block_shortcuts.py`.
"""

from __future__ import annotations

import pytest

from collectors.block_features import described
from collectors.blocks import candidates
from collectors.pages import parse_html

URL = "https://news.example.al/2020/04/15/the-article-about-the-virus/"


def grid(pane_id: str) -> str:
    """A pane of four article links, as WordPress news themes draw "You might also like"."""
    items = "".join(f'<div class="listing-item"><a href="/2020/04/1{i}/other-story-number-{i}/">'
                    f"Other story number {i} of the week</a></div>" for i in range(4))
    return f'<div class="tab-pane" id="{pane_id}"><div class="listing">{items}</div></div>'


def page(tabs: str, panes: str) -> str:
    return (f"<html><body><article><p>{'Text of the article. ' * 60}</p></article>"
            f'<div class="post-related"><div class="section-heading">{tabs}</div>'
            f'<div class="tab-content">{panes}</div></div></body></html>')


@pytest.mark.parametrize("tab", [
    '<a href="#related-1" class="main-link">You might also like</a>',
    '<a href="#" data-target="#related-1">You might also like</a>',
    '<a role="tab" aria-controls="related-1">You might also like</a>'
    '<a href="/author/someone/">More from author</a>'])
def test_a_list_in_a_tab_pane_takes_the_label_of_its_tab_as_heading(tab: str) -> None:
    """The list under a row of tabs has no heading of its own: the tab that shows its pane
    names it (by the pane's id in the tab's href, data-target or aria-controls)."""
    tree = parse_html(page(tab, grid("related-1")))
    [listing] = [c for c in candidates(tree, URL) if "listing" in c.markers.split()[:1]]
    assert listing.heading == "You might also like"
    [(_, feats)] = [(c, f) for c, f in described(tree, URL) if c.element is listing.element]
    assert feats["heading_related"] == 1.0


def test_a_list_keeps_its_own_heading_and_a_pane_no_tab_names_has_none() -> None:
    """A heading inside the pane wins over the tab's label; a pane whose id no tab names
    takes no heading from the tabs."""
    own = grid("related-1").replace('<div class="listing">',
                                    '<div class="listing"><h3>Most read</h3>')
    tree = parse_html(page('<a href="#related-1">You might also like</a>', own))
    [listing] = [c for c in candidates(tree, URL) if c.markers.startswith("listing")]
    assert listing.heading == "Most read"
    tree = parse_html(page('<a href="#elsewhere">You might also like</a>', grid("related-1")))
    [listing] = [c for c in candidates(tree, URL) if c.markers.startswith("listing")]
    assert listing.heading == ""


@pytest.mark.parametrize(("classes", "popular"), [
    ("node node-teaser node-promoted", False), ("node node--promoted node--type-post", False),
    ("promoted-stories", True), ("outbrain promoted", True)])
def test_drupal_s_promoted_node_class_does_not_say_popular(classes: str, popular: bool) -> None:
    """Drupal marks every teaser of a node promoted to the front page `node-promoted`: KUT's
    "Related Content" items carry it, and read as a sponsored ("promoted") list, the detector
    followed none of them. A class that says promoted stories still says popular."""
    items = "".join(f'<p><a href="/post/story-number-{i}">Story number {i}</a></p>'
                    for i in range(3))
    tree = parse_html(f"<html><body><article><p>{'Text. ' * 50}</p></article>"
                      f'<div class="region"><div class="{classes}">{items}</div></div>'
                      "</body></html>")
    [(_, feats)] = [(c, f) for c, f in described(tree, URL) if len(c.links) == 3]
    assert bool(feats.get("marker_popular")) is popular
