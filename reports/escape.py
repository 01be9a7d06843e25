"""Making untrusted article text safe to show: HTML, Markdown, terminals and spreadsheets."""

from __future__ import annotations

import html
import re

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_MARKDOWN = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")


def clean(value: str | None, limit: int = 500) -> str:
    """Control characters (terminal escapes, bidi overrides) removed, whitespace collapsed."""
    return " ".join(_CONTROL.sub("", value or "").split())[:limit]


def html_text(value: str | None, limit: int = 500) -> str:
    return html.escape(clean(value, limit), quote=True)


def md_text(value: str | None, limit: int = 500) -> str:
    return _MARKDOWN.sub(r"\\\1", clean(value, limit))


def safe_url(value: str | None) -> str:
    """Only http(s) links survive; anything else (javascript:, data:) becomes '#'."""
    url = clean(value, 2000)
    return url if url.startswith(("http://", "https://")) else "#"


# What a spreadsheet reads as the start of a formula (OWASP, "CSV Injection"): `=`, `+`, `-`,
# `@`, and a tab or carriage return that Excel skips before one of them.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_text(value: str | None) -> str:
    """Untrusted text for a CSV cell: a leading `'` when it would start a formula in Excel,
    LibreOffice or Google Sheets (the OWASP rule), so `=HYPERLINK(…)` in a title stays text.

    Only for text columns: numbers and dates are written as they are."""
    text = value or ""
    return "'" + text if text.startswith(_FORMULA_START) else text
