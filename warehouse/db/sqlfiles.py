"""SQL statements kept as files under sql/ (never as long strings in Python).

A few statements name a table, a column or a file that is only known at run time, which no
bound parameter can do. Their files hold ``{{placeholder}}`` slots, and ``render_sql`` fills
them only with fragments made here (``ident``, ``idents``, ``literal``, ``literals``), each
quoted for its dialect, so no raw text ever reaches a statement.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import cache

from ..errors import UsageError
from ..paths import sql_dir

_BARE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SLOT = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


@cache
def load_sql(relative: str) -> str:
    """Text of ``sql/<relative>``, e.g. ``load_sql("ingest/passes.sql")``."""
    return (sql_dir() / relative).read_text()


def statement(relative: str) -> str:
    """``sql/<relative>`` without its header comment, for statements printed for other engines."""
    lines = load_sql(relative).splitlines()
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("--")):
        lines.pop(0)
    return "\n".join(lines).strip()


class Fragment(str):
    """Quoted SQL text, safe to place in a statement's slot."""


def ident(name: str, dialect: str = "duckdb") -> Fragment:
    """An identifier, quoted: ``"name"`` (DuckDB, Trino, Postgres) or ```name``` (Spark)."""
    q = "`" if dialect == "spark" else '"'
    return Fragment(q + name.replace(q, q + q) + q)


def bare_ident(name: str) -> Fragment:
    """A plain identifier written unquoted (a catalog, schema or view-set name a user gives),
    refused unless it is letters, digits and underscores."""
    if not _BARE.fullmatch(name):
        raise UsageError(f"{name!r} is not a plain SQL name (letters, digits and _ only)")
    return Fragment(name)


def idents(names: Iterable[str], dialect: str = "duckdb") -> Fragment:
    return Fragment(", ".join(ident(n, dialect) for n in names))


def literal(text: str, dialect: str = "duckdb") -> Fragment:
    """A string literal. Spark reads backslash escapes inside literals; the others do not."""
    if dialect == "spark":
        return Fragment("'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'")
    return Fragment("'" + text.replace("'", "''") + "'")


def literals(texts: Iterable[str], dialect: str = "duckdb") -> Fragment:
    return Fragment(", ".join(literal(t, dialect) for t in texts))


def render_sql(relative: str, **slots: Fragment) -> str:
    """``sql/<relative>`` with every ``{{slot}}`` filled; each value must be a Fragment."""
    text = statement(relative)
    for name, value in slots.items():
        if not isinstance(value, Fragment):
            raise TypeError(f"{relative}: slot {name!r} needs a quoted Fragment, not {type(value).__name__}")

    def fill(m: re.Match) -> str:
        try:
            return slots[m.group(1)]
        except KeyError:
            raise KeyError(f"{relative}: no value for slot {{{{{m.group(1)}}}}}") from None

    return _SLOT.sub(fill, text)
