"""URLs: canonical forms, AMP undone, the site rule and the address rule.

Pure functions, no network. `same_site` decides by the Public Suffix List (tldextract's
bundled copy, private suffixes such as `github.io` included, never downloaded at run time):
"the last two labels" is not a site under `.com.cn`, `.co.uk` or `.github.io`.
`is_public_address` is the address rule for every URL that came from untrusted content.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, quote, urlencode, urljoin, urlsplit, urlunsplit

import idna

if TYPE_CHECKING:
    import tldextract

# Query parameters that only track the reader, never select content.
TRACKING_PARAMS = frozenset({
    "fbclid", "gclid", "dclid", "gclsrc", "msclkid", "yclid", "mc_cid", "mc_eid", "igshid",
    "_ga", "_gl", "ref_src", "ref_url", "cmpid", "ocid", "icid", "ncid", "taid", "smid",
    "spm", "mkt_tok", "oly_anon_id", "oly_enc_id",
})
TRACKING_PREFIXES = ("utm_", "at_", "pk_", "mtm_", "hmsr", "__twitter")
DEFAULT_PORTS = {"http": 80, "https": 443}


# An absolute http(s) URL whose host is a plain name (port of at most four digits), up to the
# end of its path: urlsplit accepts it as it is, with that host and path. The common case,
# told several times faster than by splitting it (`http_url`, `host_and_path`).
_PLAIN_HTTP_URL = re.compile(r"https?://([A-Za-z0-9.-]+)(?::[0-9]{1,4})?"
                             r"((?:/[^?#\t\r\n]*)?)(?=[?#]|\Z)")
# An absolute http(s) URL already in the form that resolving against a base and making it
# canonical leave as it is: a lower-case host name of non-empty labels, no port, user, query or
# fragment, and a path of characters that need no escaping (";" left out: urljoin drops an
# empty ";params"). Most entry links of real feeds are written so; each such link cost
# urljoin's or canonicalize_url's splitting and rebuilding for nothing (issue 18: a tenth of a
# parser process's time). `tests/test_dedup.py` checks the shortcut against the long way.
_SETTLED_HTTP_URL = re.compile(r"https?://[a-z0-9-]+(?:\.[a-z0-9-]+)*"
                               r"(/[A-Za-z0-9\-._~/:@!$&'()*+,=]*)?")


def http_url(href: str, base: str = "") -> str | None:
    """`href` resolved against `base` if that gives a well-formed http(s) URL, else None.

    Untrusted pages and feeds contain anything (`javascript:`, `http://[::1`, bad ports);
    urllib raises ValueError for some of it, so every untrusted URL passes through here.
    """
    href = href.strip()
    if _SETTLED_HTTP_URL.fullmatch(href) or (not base and _PLAIN_HTTP_URL.match(href)):
        return href
    try:
        absolute = urljoin(base, href) if base else href
        parts = urlsplit(absolute)
        _ = parts.port  # raises ValueError for a malformed port
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return None
    return absolute


def _is_tracking(key: str) -> bool:
    lowered = key.lower()
    return lowered in TRACKING_PARAMS or lowered.startswith(TRACKING_PREFIXES)


_PERCENT = re.compile(r"%([0-9A-Fa-f]{2})")
_UNRESERVED = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _normalise_path(path: str) -> str:
    """RFC 3986 6.2.2: upper-case escapes, decode only unreserved ones, encode raw non-ASCII."""

    def fix(match: re.Match[str]) -> str:
        char = chr(int(match.group(1), 16))
        return char if char in _UNRESERVED else f"%{match.group(1).upper()}"

    path = _PERCENT.sub(fix, path)
    return quote(path, safe="/:@!$&'()*+,;=-._~%") or "/"


def ascii_host(host: str) -> str:
    """An internationalised host name in its ASCII (punycode) form, as DNS and httpx use it
    (IDNA 2008), so `例子.中国` and `xn--fsqu00a.xn--fiqs8s` are one host; a name IDNA refuses
    is left as it is (the fetcher reports it)."""
    if host.isascii():
        return host
    try:
        return idna.encode(host).decode("ascii")
    except (idna.IDNAError, UnicodeError):
        return host


def canonicalize_url(url: str, keep_fragment: bool = False) -> str:
    """The normalised form of an article URL under which it is stored.

    Lower-cases scheme and host (an internationalised one in punycode), drops default ports,
    fragments, tracking parameters and empty queries, sorts the remaining query parameters
    and normalises percent-encoding.
    Only transformations that cannot turn two different articles into one are applied:
    path case, trailing slashes and non-tracking parameters are kept. `keep_fragment` is
    for the rare sites whose posts differ only by fragment (see `canonical_urls`).
    """
    settled = _SETTLED_HTTP_URL.fullmatch(url)
    if settled:
        return url if settled.group(1) else f"{url}/"  # an empty path is "/"
    try:
        parts = urlsplit(url.strip())
    except ValueError:  # malformed: left as it is, and the fetcher reports it as a bad URL
        return url.strip()
    scheme = parts.scheme.lower()
    host = ascii_host((parts.hostname or "").lower().rstrip("."))
    if not host:
        return url.strip()
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = host if ":" not in host else f"[{host}]"
    if port and DEFAULT_PORTS.get(scheme) != port:
        netloc = f"{netloc}:{port}"
    if parts.username:
        userinfo = parts.username + (f":{parts.password}" if parts.password else "")
        netloc = f"{userinfo}@{netloc}"
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
             if not _is_tracking(k)]
    query.sort()
    fragment = parts.fragment if keep_fragment else ""
    return urlunsplit((scheme, netloc, _normalise_path(parts.path), urlencode(query), fragment))


def canonical_urls(urls: list[str]) -> list[str]:
    """Canonical forms of one feed's entry URLs, keeping fragments where they tell posts apart.

    Some sites (Scripting News, live blogs) publish many posts on one page, told apart only
    by `#fragment`; dropping it there would merge distinct articles. Fragments are kept only
    when every entry pointing at the page has one and they differ; a bare page URL next to
    `#comments` is one article.
    """
    plain = [canonicalize_url(u) for u in urls]
    variants: dict[str, set[str]] = {}
    for url, canonical in zip(urls, plain, strict=True):
        variants.setdefault(canonical, set()).add(url.partition("#")[2])
    return [canonicalize_url(url, keep_fragment=True)
            if len(variants[canonical]) > 1 and "" not in variants[canonical] else canonical
            for url, canonical in zip(urls, plain, strict=True)]


_AMP_PATH = re.compile(r"(/amp/?$)|(/amp(?=/))|(\.amp(?=\.html?$))")


def de_amp_url(url: str) -> str:
    """The regular page behind an AMP URL (`…/amp`, `amp.` host, `?amp=1`), else `url`."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    host = parts.netloc
    if host.lower().startswith("amp."):
        host = host[4:]
    path = _AMP_PATH.sub("", parts.path) or "/"
    query = urlencode([(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True)
                       if k.lower() not in {"amp", "outputtype"}])
    return urlunsplit((parts.scheme, host, path, query, parts.fragment))


@lru_cache(maxsize=1)
def _extractor() -> tldextract.TLDExtract:
    import tldextract  # with `requests`, 0.3 s: loaded when a site is first compared (issue 18)

    # suffix_list_urls=() keeps tldextract on the list shipped inside the package
    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None,
                                 include_psl_private_domains=True)


def is_ip_literal(host: str) -> bool:
    """True for an IPv4 or IPv6 address (brackets allowed), False for a name."""
    address = host.strip("[]")
    # An IPv6 address has colons and an IPv4 one only digits and dots: any other name is told
    # without the exception ipaddress raises for it (the site of each new host on a page).
    if ":" not in address and not address.replace(".", "").isdigit():
        return False
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


@lru_cache(maxsize=4096)
def site(host: str) -> str:
    """The registrable domain of a host (`news.sina.com.cn` → `sina.com.cn`); the host itself
    for IP literals, single labels and bare public suffixes."""
    host = host.lower().rstrip(".").strip("[]")
    if not host or is_ip_literal(host):
        return host
    registrable = str(_extractor()(host).top_domain_under_public_suffix)
    return registrable or host


def site_of(url: str) -> str:
    """The registrable domain of a URL's host, or "" when it has none."""
    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return ""
    return site(host)


def host_and_path(url: str) -> tuple[str, str]:
    """The host name (lower-cased, "" if none) and the path of a well-formed URL, as urlsplit
    gives them."""
    plain = _PLAIN_HTTP_URL.match(url)
    if plain:
        return plain.group(1).lower(), plain.group(2)
    parts = urlsplit(url)
    return parts.hostname or "", parts.path


def same_site(host_a: str, host_b: str) -> bool:
    """Same registrable domain by the Public Suffix List (`evil.com.cn` ≠ `sina.com.cn`)."""
    a, b = site(host_a), site(host_b)
    return bool(a) and a == b


def is_public_address(address: str) -> bool:
    """True only for globally routable unicast addresses (`ipaddress.is_global`).

    IPv4-mapped (`::ffff:a.b.c.d`), 6to4 (`2002::/16`) and Teredo forms are unwrapped first,
    so an internal IPv4 address cannot hide inside an IPv6 one; 100.64.0.0/10 (carrier NAT,
    where the Alibaba Cloud metadata service answers at 100.100.100.200) is not global.
    """
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        inner = ip.ipv4_mapped or ip.sixtofour or (ip.teredo[1] if ip.teredo else None)
        if inner is not None:
            return is_public_address(str(inner))
    if any(ip in network for network in _NOT_PUBLIC):
        return False
    return bool(ip.is_global) and not ip.is_multicast


# Ranges `is_global` lets through on some Python versions: fec0::/10 is deprecated site-local
# but still routed inside networks; 192.0.0.0/24 is IETF protocol assignments (RFC 6890),
# where Python 3.11 calls 192.0.0.8 (RFC 7600's dummy address) global.
_NOT_PUBLIC = (ipaddress.ip_network("fec0::/10"), ipaddress.ip_network("192.0.0.0/24"))
