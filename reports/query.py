"""Search queries: the syntax people know, parsed once into a tree both databases compile.

`Huawei SMIC` needs both words, `Huawei OR SMIC` either, `-word` or `-"a phrase"` excludes,
`"exact phrase"` needs the words next to each other. OR binds tighter than the space (as in
web search and PostgreSQL's `websearch_to_tsquery`): `chips Huawei OR SMIC` is chips and
(Huawei or SMIC). Words are split by the one tokenizer (`common.text.words`), so Chinese is
segmented the way the index was: an unquoted `华为昇腾` needs both 华为 and 昇腾, and a word
such as `gpt-4o` or `01.ai` needs its parts next to each other, as FTS5 reads it.

`to_fts5` and `to_tsquery` turn the tree into an FTS5 MATCH expression and a `to_tsquery`
text. Every term in them is a run of letters and digits, quoted, so no query reaches either
engine's operators except through the tree; both are passed to SQL as bound parameters.
A query that cannot mean anything (an unbalanced quote, a lone `-`, `OR` at an end, only
exclusions) is a `QueryError` with one line that says what to fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from common.errors import UserError
from common.text import has_cjk, words


class QueryError(UserError):
    """A search query that cannot be parsed; the message says what to change."""


@dataclass(frozen=True)
class Term:
    """Articles containing `words` one after the other (one word for most terms)."""
    words: tuple[str, ...]


@dataclass(frozen=True)
class AllOf:
    """Articles containing every one of `terms` (a Chinese run segmented into words)."""
    terms: tuple[Term, ...]


@dataclass(frozen=True)
class AnyOf:
    """Articles matching at least one of `options` (the OR operator)."""
    options: tuple[Node, ...]


@dataclass(frozen=True)
class Query:
    """Articles matching every `include` node and none of the `exclude` nodes."""
    include: tuple[Node, ...]
    exclude: tuple[Node, ...]


Node = Term | AllOf | AnyOf

# A quoted phrase (possibly unterminated), `OR`, or a run of anything else but space and quote.
_TOKEN = re.compile(r'(?P<neg>-?)(?:"(?P<phrase>[^"]*)(?P<close>"?)|(?P<word>[^\s"]+))')


def _word_node(text: str) -> Node | None:
    """One unquoted word: Chinese runs need every word, anything else its parts in order."""
    found = words(text)
    if not found:
        return None
    if has_cjk(text):
        terms = tuple(Term((w,)) for w in dict.fromkeys(found))
        return terms[0] if len(terms) == 1 else AllOf(terms)
    return Term(tuple(found))


def parse(query: str) -> Query:
    """The query as a tree; `QueryError` (one line) when it cannot mean anything."""
    return _group(list(_tokens(query)), query)


_OR = "OR"


def _tokens(query: str) -> list[tuple[bool, Node] | str]:
    """The query's terms as (excluded, node), and the OR operators between them."""
    items: list[tuple[bool, Node] | str] = []
    position = 0
    while position < len(query):
        if query[position].isspace():
            position += 1
            continue
        match = _TOKEN.match(query, position)
        if match is None or match["phrase"] is not None and not match["close"]:
            raise QueryError('unbalanced quote in the search query: close the "phrase"')
        position = match.end()
        negated = match["neg"] == "-"
        if match["phrase"] is not None:
            found = words(match["phrase"])
            if not found:
                raise QueryError(f'the phrase "{match["phrase"]}" has no words to look for')
            items.append((negated, Term(tuple(found))))
            continue
        word = match["word"]
        if word == _OR and not negated:
            items.append(_OR)
            continue
        node = _word_node(word)
        if node is None and (word == "-" or negated):
            raise QueryError("a lone '-' in the search query: write -word to leave out "
                             "articles with that word")
        if node is not None:  # punctuation on its own (`&`, `*`, `(`) looks for nothing
            items.append((negated, node))
    return items


def _group(items: list[tuple[bool, Node] | str], query: str) -> Query:
    """Join `a OR b` runs into one node; check that OR stands between two terms."""
    misplaced = QueryError("OR needs a term on each side, as in: Huawei OR SMIC")
    groups: list[tuple[bool, list[Node]]] = []
    pending_or = False
    for item in items:
        if isinstance(item, str):
            if not groups or pending_or:
                raise misplaced
            pending_or = True
            continue
        negated, node = item
        if pending_or:
            if negated or groups[-1][0]:
                raise QueryError("-word cannot be a side of OR: write Huawei OR SMIC -word")
            groups[-1][1].append(node)
            pending_or = False
        else:
            groups.append((negated, [node]))
    if pending_or:
        raise misplaced
    include = tuple(_either(nodes) for negated, nodes in groups if not negated)
    exclude = tuple(_either(nodes) for negated, nodes in groups if negated)
    if not include:
        if exclude:
            raise QueryError("a search needs a word to look for besides the -excluded ones")
        raise QueryError(f"nothing to search for in {query.strip()!r}: give a word")
    return Query(include, exclude)


def _either(nodes: list[Node]) -> Node:
    return nodes[0] if len(nodes) == 1 else AnyOf(tuple(nodes))


def _fts5(node: Node) -> str:
    if isinstance(node, Term):
        return '"' + " ".join(node.words).replace('"', '""') + '"'
    if isinstance(node, AllOf):
        return "(" + " AND ".join(_fts5(t) for t in node.terms) + ")"
    return "(" + " OR ".join(_fts5(o) for o in node.options) + ")"


def to_fts5(query: Query) -> str:
    """An FTS5 MATCH expression: quoted terms joined by AND, OR, NOT."""
    included = " AND ".join(_fts5(n) for n in query.include)
    if not query.exclude:
        return included
    return f"({included}) NOT (" + " OR ".join(_fts5(n) for n in query.exclude) + ")"


def _lexeme(word: str) -> str:
    return "'" + word.replace("'", "''").replace("\\", "\\\\") + "'"


def _tsquery(node: Node) -> str:
    if isinstance(node, Term):
        return "(" + " <-> ".join(_lexeme(w) for w in node.words) + ")"
    if isinstance(node, AllOf):
        return "(" + " & ".join(_tsquery(t) for t in node.terms) + ")"
    return "(" + " | ".join(_tsquery(o) for o in node.options) + ")"


def to_tsquery(query: Query) -> str:
    """A `to_tsquery('simple', …)` text: quoted lexemes joined by &, |, !, <->."""
    parts = [_tsquery(n) for n in query.include]
    parts += [f"!{_tsquery(n)}" for n in query.exclude]
    return " & ".join(parts)
