"""Article pages: Chinese encodings, extraction, canonical URLs, Related-News blocks."""

from __future__ import annotations

import gzip

import pytest

from collectors.pages import (
    canonical_link,
    discover_feed_links,
    extract_page,
    find_related_links,
    parse_html,
)
from collectors.textutil import decode_body, strip_html
from tests.conftest import CORPUS
from tests.pages import (
    CHINESE_TEXT,
    TRADITIONAL_TEXT,
    article_page,
    seed_page,
    seed_paragraphs,
)

ARTICLES = CORPUS / "articles"


def corpus_page(name: str) -> bytes:
    raw = (ARTICLES / name).read_bytes()
    return gzip.decompress(raw) if name.endswith(".gz") else raw


CHINESE_PAGE = article_page("中国人工智能实验室的观察", [CHINESE_TEXT] * 3, charset_meta=None,
                            lang="zh")
TRADITIONAL_PAGE = article_page("中國人工智慧實驗室的觀察", [TRADITIONAL_TEXT] * 3,
                                charset_meta=None, lang="zh-TW")


@pytest.mark.parametrize("codec", ["gb2312", "gbk", "gb18030", "big5", "utf-8"])
@pytest.mark.parametrize("declared", ["meta", "header", "none", "wrong-utf8"])
def test_chinese_pages_decode_correctly(codec: str, declared: str) -> None:
    text = TRADITIONAL_PAGE if codec == "big5" else CHINESE_PAGE
    if codec == "gb2312":  # GB2312 proper cannot hold 镕/喆: real "GB2312" pages are GBK
        text = text.replace("镕", "荣").replace("喆", "哲")
    label = {"gb18030": "gb2312"}.get(codec, codec)  # pages labelled gb2312 holding GB18030
    content_type = "text/html"
    if declared == "meta":
        text = text.replace("<head>", f'<head><meta charset="{label}">')
    elif declared == "header":
        content_type = f"text/html; charset={label}"
    elif declared == "wrong-utf8" and codec != "utf-8":
        text = text.replace("<head>", '<head><meta charset="utf-8">')
    body = text.encode("big5hkscs" if codec == "big5" else codec)
    decoded, _ = decode_body(body, content_type)
    expected_fragment = ("晶片和資料的差距是中美之間的關鍵區別" if codec == "big5"
                         else "芯片和数据的差距是中美之间的关键区别")
    assert expected_fragment in decoded
    if codec in ("gbk", "gb18030", "utf-8"):
        assert "朱镕基" in decoded and "张喆" in decoded
    page = extract_page(body, "https://news.example.cn/a/1.html", content_type)
    assert page.text and expected_fragment in page.text
    assert page.language == "zh"


def test_bom_wins_over_a_wrong_declaration() -> None:
    mislabelled = CHINESE_PAGE.replace("<head>", '<head><meta charset="big5">')
    body = "\ufeff".encode() + mislabelled.encode()
    decoded, codec = decode_body(body)
    assert "中美之间" in decoded and codec == "utf-8"


def test_a_date_in_the_text_is_guessed_only_when_the_feed_gave_none() -> None:
    # With the feed's date known, htmldate reads the page's metadata but does not search its
    # text (dateparser's locales cost seconds per process: issue 18); the text is unchanged.
    body = article_page("Huawei", ["Posted 3rd of March, 2021"]
                        + ["Huawei ships Ascend chips to data centres in Shenzhen."] * 5)
    guessed = extract_page(body.encode(), "https://news.example/a/1")
    trusted = extract_page(body.encode(), "https://news.example/a/1", date_known=True)
    assert guessed.published_at is not None and guessed.published_at.day == 3
    assert trusted.published_at is None
    assert trusted.text == guessed.text and trusted.title == guessed.title


def test_seed_page_related_block_is_found_in_order() -> None:
    _, titles = seed_paragraphs()
    assert len(titles) == 5
    links = {t: f"/news/{i}" for i, t in enumerate(titles)}
    page = extract_page(seed_page(links).encode(), "https://abmedia.io/china-ai-labs")
    assert [r.anchor_text for r in page.related] == titles
    assert [r.url for r in page.related] == [f"https://abmedia.io/news/{i}" for i in range(5)]
    assert {r.block for r in page.related} == {"Related News"}
    assert page.text and "research culture and organizational atmosphere" in page.text
    assert "Cloudflare announces global layoffs" not in page.text
    assert page.published_at is not None and page.published_at.year == 2026


@pytest.mark.parametrize(("name", "block", "first_anchor"), [
    ("adbar-trafilatura__reuters.com.parasite.html", "Related Coverage", "Factbox"),
    ("adbar-trafilatura__medicalnewstoday.com.318674.html", "Related Coverage",
     "What percentage of our brain"),
    ("adbar-trafilatura__nature.com.telescope.html", "Related Articles",
     "Daring Chinese telescope"),
    ("scrapinghub-article-extraction-benchmark__c7e39ac49fa1235f5d50f83bf2444248bd3aa4e6"
     "df044377916c812dd109ba23.html.gz", "More on this story", "Assange"),
    ("adbar-trafilatura__japantimes.co.jp.surgical.html", "RELATED STORIES", "masks"),
])
def test_real_related_blocks(name: str, block: str, first_anchor: str) -> None:
    tree = parse_html(corpus_page(name).decode("utf-8", errors="replace"))
    related = find_related_links(tree, "https://example.com/article")
    blocks = [r for r in related if r.block == block]
    assert blocks, [r.block for r in related]
    assert first_anchor in blocks[0].anchor_text


def test_page_without_a_block_yields_no_links() -> None:
    html = article_page("Plain", ["Nothing to see. " * 20],
                        related=None).replace("</article>", '<a href="/x">Home</a></article>')
    assert find_related_links(parse_html(html), "https://example.com/a") == []


def test_unsafe_and_useless_links_are_dropped() -> None:
    html = """<html><body><p>text</p><h3>相关新闻</h3><ul>
      <li><a href="javascript:alert(1)">DeepSeek js</a></li>
      <li><a href="file:///etc/passwd">DeepSeek file</a></li>
      <li><a href="mailto:a@b.c">mail</a></li>
      <li><a href="#top">top</a></li>
      <li><a href="/ok">华为昇腾芯片新进展</a></li></ul></body></html>"""
    related = find_related_links(parse_html(html), "https://news.example.cn/a")
    assert [(r.url, r.block) for r in related] == [("https://news.example.cn/ok", "相关新闻")]


def test_huge_related_block_is_capped() -> None:
    items = "".join(f'<li><a href="/n/{i}">story {i}</a></li>' for i in range(10_000))
    html = f"<html><body><h2>Related News</h2><ul>{items}</ul></body></html>"
    assert len(find_related_links(parse_html(html), "https://x.com/a")) <= 100


def test_canonical_link_same_site_and_amp() -> None:
    tree = parse_html('<html><head><link rel="canonical" href="https://www.x.com/story?id=1">'
                      "</head><body></body></html>")
    assert canonical_link(tree, "https://amp.x.com/story/amp?id=1") == "https://www.x.com/story?id=1"
    hostile = parse_html('<html><head><link rel="canonical" href="https://other.org/a">'
                         "</head></html>")
    assert canonical_link(hostile, "https://x.com/story/amp") == "https://x.com/story"


def test_feed_autodiscovery() -> None:
    html = b"""<html><head><link rel="alternate" type="application/rss+xml" href="/rss.xml">
      <link rel="alternate" type="text/html" href="/en"></head></html>"""
    found = discover_feed_links(html, "https://technode.com/")
    assert found[0] == "https://technode.com/rss.xml"
    assert "https://technode.com/feed" in found and "https://technode.com/en" not in found


def test_strip_html_keeps_paragraph_breaks() -> None:
    assert strip_html("<p>One &amp; two</p><p>three<script>x()</script></p>") == "One & two\nthree"
    assert strip_html("plain &lt;text&gt;") == "plain <text>"
    assert strip_html("   ") is None
