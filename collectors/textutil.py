"""Bytes to text for pages, and HTML fragments to plain text; shared by feeds.py and pages.py.

Chinese pages are central to cait and the usual tools get them wrong: a page labelled
GB2312 routinely holds GBK/GB18030 characters, Big5 pages use HKSCS extensions, and many
pages declare nothing at all. Labels are therefore mapped to their supersets, a declared
charset is trusted only if the bytes decode under it, and detection runs otherwise.
"""

from __future__ import annotations

import codecs
import html
import re

import charset_normalizer
from lxml import etree

# WHATWG-style label → the codec that decodes what real pages under that label contain.
SUPERSETS = {
    "gb2312": "gb18030", "gbk": "gb18030", "gb_2312-80": "gb18030", "x-gbk": "gb18030",
    "csgb2312": "gb18030", "euc-cn": "gb18030", "cp936": "gb18030", "windows-936": "gb18030",
    "big5": "big5hkscs", "x-x-big5": "big5hkscs", "cn-big5": "big5hkscs", "cp950": "big5hkscs",
    "iso-8859-1": "cp1252", "latin1": "cp1252", "latin-1": "cp1252", "us-ascii": "cp1252",
    "ascii": "cp1252", "shift_jis": "cp932", "sjis": "cp932", "euc-kr": "cp949",
}
_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""<\?xml[^>]*encoding=["']([A-Za-z0-9._-]+)["']""", re.I)
_HEADER_CHARSET = re.compile(r"charset\s*=\s*[\"']?([\w.:-]+)", re.I)
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"),
         (codecs.BOM_UTF16_BE, "utf-16-be"))


def codec_for(label: str | None) -> str | None:
    """The Python codec for a charset label (mapped to its superset), or None if unknown."""
    if not label:
        return None
    label = label.strip().lower()
    label = SUPERSETS.get(label, label)
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str) -> str | None:
    """The charset named by a Content-Type header value."""
    match = _HEADER_CHARSET.search(content_type or "")
    return match.group(1) if match else None


def xml_charset(body: bytes) -> str | None:
    """The encoding named by the document's XML declaration."""
    found = _XML_ENCODING.search(body[:4096])
    return found.group(1).decode("ascii", errors="ignore") if found else None


def declared_charset(body: bytes, content_type: str = "") -> str | None:
    """The charset a response declares: HTTP header first, then XML declaration or <meta>."""
    declared = header_charset(content_type) or xml_charset(body)
    if declared:
        return declared
    found = _META_CHARSET.search(body[:4096])
    return found.group(1).decode("ascii", errors="ignore") if found else None


def decode_body(body: bytes, content_type: str = "") -> tuple[str, str]:
    """Decode a page: (text, codec used). Never raises; undecodable bytes become U+FFFD."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return body[len(bom):].decode(codec, errors="replace"), codec
    declared = codec_for(declared_charset(body, content_type))
    candidates = [c for c in (declared, "utf-8") if c]
    for codec in dict.fromkeys(candidates):
        try:
            return body.decode(codec), codec
        except UnicodeDecodeError:
            continue
    codec = _detect(body[:200_000]) or declared or "cp1252"
    return body.decode(codec, errors="replace"), codec


def _detect(sample: bytes) -> str | None:
    """The detected codec. Single-byte Latin code pages read most Western text equally well
    and the detector ranks them arbitrarily (cp1250 turns French 'à' into 'ŕ'): among equally
    good guesses windows-1252 wins, as it does in browsers and feedparser."""
    guesses = list(charset_normalizer.from_bytes(sample))
    if not guesses:
        return None
    best = guesses[0]
    if any(g.encoding == "cp1252" and g.chaos <= best.chaos + 0.01 for g in guesses):
        return "cp1252"
    return codec_for(best.encoding) or best.encoding


_BLOCK_TAGS = ("p", "div", "br", "li", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "tr")


def _tidy(text: str) -> str:
    """Single spaces within lines, no blank lines (str.split is far faster than regexes here)."""
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


# lxml's own parser without lxml.html's element classes (looking the class up for every
# element was a fifth of the stripping), and the document wrapped as
# `lxml.html.fragment_fromstring` wraps it, so the text is the same (issue 18).
_FRAGMENT_PARSER = etree.HTMLParser()
_STRING = etree.XPath("string()")
_FULL_DOCUMENT = re.compile(r"^\s*<(?:html|!doctype)", re.I).match


def _markup_text(value: str) -> str:
    doc = etree.fromstring(value if _FULL_DOCUMENT(value) else f"<html><body>{value}</body></html>",
                           _FRAGMENT_PARSER)
    bodies = [] if doc is None else [e for e in doc if e.tag == "body"]
    if len(bodies) != 1:
        raise etree.ParserError("no single body")
    body = bodies[0]
    for bad in list(body.iter("script", "style")):
        bad.clear(keep_tail=True)
    for block in body.iter(*_BLOCK_TAGS):
        block.tail = "\n" + (block.tail or "")
    return str(_STRING(body))


def strip_html(value: str | None) -> str | None:
    """Plain text of an HTML fragment (entities resolved, whitespace tidied), or None if empty."""
    if value is None:
        return None
    if "<" in value:
        try:
            text = _markup_text(value)
        except (etree.ParserError, ValueError):
            text = html.unescape(re.sub(r"<[^>]+>", " ", value))
    elif "&" in value:
        text = html.unescape(value)
    else:
        text = value
    return _tidy(text) or None


MAX_TITLE_CHARS = 1000  # longer is an attack or an accident; a 9 MB feed title was stored


def title_text(value: object, *, markup: bool = True) -> str | None:
    """A title as cait keeps it: HTML stripped (when `markup`), whitespace tidied, and capped
    at MAX_TITLE_CHARS, as bodies are capped (issue 13: stripping a 200 MB title took 191 s).

    The raw value is cut first, with room for the markup the stripping removes.
    """
    if value is None:
        return None
    text = str(value)[:MAX_TITLE_CHARS * 8].strip()
    if markup:
        text = strip_html(text) or ""
    text = " ".join(text[:MAX_TITLE_CHARS * 2].split())[:MAX_TITLE_CHARS]
    return text or None
