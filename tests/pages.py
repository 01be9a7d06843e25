"""Test pages built from real text: the seed articles rendered as HTML, Chinese articles."""

from __future__ import annotations

import html

from tests.conftest import SEEDS

# A short Chinese news text written for these tests; it includes characters outside GB2312
# (镕, 喆 are GBK-only) so a decoder that treats GBK pages as GB2312 fails visibly.
CHINESE_TEXT = (
    "美国研究员内森兰伯特近日走访了月之暗面、智谱和阿里巴巴通义千问等中国人工智能实验室。"
    "他认为，芯片和数据的差距是中美之间的关键区别，而中国研究人员的务实文化和人才密度是其优势。"
    "多家实验室坚持开源发布模型权重，下载量在全球排名前列。朱镕基时代培养的工程师和张喆等年轻学生"
    "正在成为大模型团队的主力，许多人在海外留学后回国工作。"
)

# The same kind of text in traditional characters, for Big5 pages (Taiwan, Hong Kong).
TRADITIONAL_TEXT = (
    "美國研究員內森蘭伯特近日走訪了月之暗面、智譜和阿里巴巴通義千問等中國人工智慧實驗室。"
    "他認為，晶片和資料的差距是中美之間的關鍵區別，而中國研究人員的務實文化和人才密度是其優勢。"
    "多家實驗室堅持開源發布模型權重，下載量在全球排名前列，許多人在海外留學後回國工作。"
)


def seed_paragraphs(name: str = "abmedia_lambert_china_ai_labs.txt") -> tuple[list[str],
                                                                              list[str]]:
    """The seed's body paragraphs and the titles listed under its 'Related News' line."""
    lines = [ln.strip() for ln in SEEDS.joinpath(name).read_text().splitlines() if ln.strip()]
    if "Related News" in lines:
        cut = lines.index("Related News")
        return lines[:cut], lines[cut + 1:]
    return lines, []


def seed_page(links: dict[str, str], title: str = "In-depth field visit to China's AI labs",
              name: str = "abmedia_lambert_china_ai_labs.txt") -> str:
    """The seed rendered as an article page; `links` maps each related title to its href."""
    body, related = seed_paragraphs(name)
    paragraphs = "\n".join(f"<p>{html.escape(p)}</p>" for p in body)
    items = "\n".join(f'<li><a href="{html.escape(links[t])}">{html.escape(t)}</a></li>'
                      for t in related if t in links)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>{html.escape(title)}</title>
<meta property="article:published_time" content="2026-05-12T08:00:00+00:00"></head>
<body><header><nav><a href="/">Home</a> <a href="/tech">Tech</a></nav></header>
<article><h1>{html.escape(title)}</h1>
<p class="byline">By ABMedia staff, 2026-05-12</p>
{paragraphs}
</article>
<section class="post-footer"><h3>Related News</h3><ul>
{items}
</ul></section><footer><a href="/about">About us</a></footer></body></html>"""


def article_page(title: str, paragraphs: list[str], *, charset_meta: str | None = "utf-8",
                 lang: str = "en", related: dict[str, str] | None = None) -> str:
    meta = f'<meta charset="{charset_meta}">' if charset_meta else ""
    body = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    block = ""
    if related:
        items = "".join(f'<li><a href="{html.escape(u)}">{html.escape(t)}</a></li>'
                        for t, u in related.items())
        block = f"<div><h2>Related Coverage</h2><ul>{items}</ul></div>"
    return (f"<!doctype html><html lang='{lang}'><head>{meta}<title>{html.escape(title)}"
            f"</title></head><body><article><h1>{html.escape(title)}</h1>{body}</article>"
            f"{block}</body></html>")
