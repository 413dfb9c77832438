"""Load the versioned SQL views in ``sql/views/<set>/`` into DuckDB schemas of the same name.

One view per file, named after the file. A file holds a leading doc comment (what a row is,
then ``@column name  meaning`` lines) and one SELECT statement. Views may reference base
tables in ``main`` and other views of their own set; they are created in dependency order.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.qualify import qualify

from .. import paths
from ..errors import InstallError, UsageError
from . import catalog
from .sqlfiles import Fragment, bare_ident, ident, load_sql, render_sql

_COLUMN_RE = re.compile(r"^@column\s+(\S+)\s*(.*)$")
_GRAIN_RE = re.compile(r"^@grain\s+(.+)$")
DIALECTS = ("duckdb", "spark", "trino", "postgres")


@dataclass
class ViewDef:
    view_set: str
    name: str
    path: Path
    doc: str
    columns: dict[str, str]
    grain: list[str]  # the columns that are unique together: what one row is
    sql: str
    deps: set[str] = field(default_factory=set)  # views of the same set
    tables: set[str] = field(default_factory=set)  # base tables in main
    tree: exp.Expression | None = field(default=None, repr=False, compare=False)  # parsed SELECT

    @property
    def qualified(self) -> str:
        return f"{self.view_set}.{self.name}"

    @property
    def summary(self) -> str:
        return self.doc.split("\n\n")[0].replace("\n", " ").strip()


def view_sets() -> list[str]:
    root = paths.sql_dir() / "views"
    return sorted(p.name for p in root.iterdir() if p.is_dir() and re.fullmatch(r"v\d+", p.name))


def _split_doc(path: Path, text: str) -> tuple[str, dict[str, str], list[str], str]:
    lines = text.splitlines()
    doc_lines: list[str] = []
    i = 0
    while i < len(lines) and (lines[i].startswith("--") or not lines[i].strip()):
        if lines[i].startswith("--"):
            doc_lines.append(lines[i][2:].removeprefix(" "))
        elif doc_lines:
            break
        i += 1
    body = "\n".join(lines[i:]).strip().rstrip(";").strip()
    prose: list[str] = []
    columns: dict[str, str] = {}
    grain: list[str] = []
    last = None
    for line in doc_lines:
        g = _GRAIN_RE.match(line.strip())
        if g:
            grain = [c.strip() for c in g.group(1).split(",")]
            last = None
            continue
        m = _COLUMN_RE.match(line.strip())
        if m:
            last = m.group(1)
            columns[last] = m.group(2).strip()
        elif last is not None and line.startswith("   ") and line.strip():
            columns[last] += " " + line.strip()
        else:
            last = None
            prose.append(line)
    doc = "\n".join(prose).strip()
    if not doc or not columns:
        raise InstallError(f"{path}: a view file starts with a doc comment and @column lines")
    if not body:
        raise InstallError(f"{path}: no SELECT statement after the doc comment")
    if not grain or set(grain) - columns.keys():
        raise InstallError(f"{path}: the doc comment declares the view's grain, `@grain col, ...`, "
                            "naming documented columns")
    return doc, columns, grain, body


@cache
def _read_set(view_set: str, root: Path) -> tuple[ViewDef, ...]:
    folder = root / "views" / view_set
    defs: dict[str, ViewDef] = {}
    for path in sorted(folder.glob("*.sql")):
        doc, columns, grain, body = _split_doc(path, path.read_text())
        defs[path.stem] = ViewDef(view_set, path.stem, path, doc, columns, grain, body)
    for d in defs.values():
        try:
            tree = sqlglot.parse_one(d.sql, read="duckdb")
        except sqlglot.errors.ParseError as exc:
            raise InstallError(f"{d.path}: sqlglot cannot parse the view: {exc}") from None
        if not isinstance(tree, exp.Query):
            raise InstallError(f"{d.path}: a view file holds one SELECT statement")
        d.tree = tree
        ctes = {c.alias_or_name for c in tree.find_all(exp.CTE)}
        for t in tree.find_all(exp.Table):
            if not t.name or isinstance(t.this, exp.Anonymous) or t.this.__class__ is not exp.Identifier:
                continue  # table functions such as range(...) / unnest
            if t.db == view_set:
                if t.name not in defs:
                    raise InstallError(f"{d.path}: references {view_set}.{t.name}, which no file defines")
                d.deps.add(t.name)
            elif t.db in ("", "main") and t.name not in ctes:
                d.tables.add(t.name)
            elif t.db not in ("", "main"):
                raise InstallError(f"{d.path}: references {t.db}.{t.name}; a view uses main tables and its own set")
    return tuple(_toposort(defs))


def _toposort(defs: dict[str, ViewDef]) -> list[ViewDef]:
    done: dict[str, ViewDef] = {}
    visiting: set[str] = set()

    def visit(name: str) -> None:
        if name in done:
            return
        if name in visiting:
            raise InstallError(f"{defs[name].path}: views depend on each other in a cycle")
        visiting.add(name)
        for dep in sorted(defs[name].deps):
            visit(dep)
        visiting.discard(name)
        done[name] = defs[name]

    for name in sorted(defs):
        visit(name)
    return list(done.values())


def _known(view_set: str) -> str:
    if view_set not in view_sets():
        raise UsageError(f"no view set {view_set!r}; known: {', '.join(view_sets())}")
    return view_set


def definitions(view_set: str = "v1") -> list[ViewDef]:
    """The views of one set, in dependency order."""
    return list(_read_set(_known(view_set), paths.sql_dir()))


def find(name: str) -> ViewDef:
    view_set, _, short = name.rpartition(".")
    for d in definitions(view_set or "v1"):
        if d.name == short:
            return d
    raise UsageError(f"no view named {name!r}; `moewh views list` shows them")


def set_version(view_set: str) -> str:
    """A digest of the set's files as they are on disk. Every open compares it with the version
    the database loaded, so it reads the files without parsing them (parsing every view with
    sqlglot took 0.37 s, a third of a small trace's ingest)."""
    h = hashlib.sha256()
    for path in sorted((paths.sql_dir() / "views" / _known(view_set)).glob("*.sql")):
        h.update(path.stem.encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def needs_reload(con: duckdb.DuckDBPyConnection) -> bool:
    try:
        loaded = loaded_versions(con)
    except duckdb.CatalogException:
        return True
    return any(loaded.get(s) != set_version(s) for s in view_sets())


def _main_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    # sqlglot's qualify needs names only; the types stay DuckDB's business.
    return {t: {c: "UNKNOWN" for c, _ in cols}
            for t, cols in catalog.columns(con, "main", base_tables_only=False).items()}


def check_references(d: ViewDef, schema: dict[str, dict[str, dict[str, str]]]) -> bool:
    """Raise InstallError naming the file if the view uses a column its sources lack.

    ``schema`` maps schema name -> table -> columns (main tables and the set's views loaded so
    far). Returns False when sqlglot cannot resolve a construct statically; DuckDB's binder
    then still checks the view when it is created.
    """
    tree = d.tree.copy() if d.tree is not None else sqlglot.parse_one(d.sql, read="duckdb")
    try:
        qualify(tree, schema=schema, dialect="duckdb", db="main", validate_qualify_columns=True)
    except sqlglot.errors.OptimizeError as exc:
        raise InstallError(f"{d.path}: {exc}") from None
    except Exception:  # noqa: BLE001 - a sqlglot gap is not the view's fault
        return False
    return True


_CHECKED: set[tuple[str, str, str]] = set()


def load(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create every view set inside the caller's transaction.

    Before anything is dropped, every table a view names must exist in main; then each view's
    column references are checked against the tables and the views created before it.
    """
    main_columns = _main_columns(con)
    main_key = repr(sorted((t, tuple(c)) for t, c in main_columns.items()))
    for view_set in view_sets():
        defs = definitions(view_set)
        # the static check is pure in (views, main schema): skip it when this process passed it
        checked_key = (view_set, set_version(view_set), main_key)
        for d in defs:
            missing = d.tables - main_columns.keys()
            if missing:
                raise InstallError(f"{d.path}: references missing table(s) {', '.join(sorted(missing))}")
        con.execute(render_sql("viewset/recreate_schema.sql", view_set=ident(view_set)))
        schema: dict[str, dict[str, dict[str, str]]] = {"main": main_columns, view_set: {}}
        for d in defs:
            if checked_key not in _CHECKED:
                check_references(d, schema)
            try:
                con.execute(render_sql("viewset/create_view.sql", view_set=ident(view_set), name=ident(d.name),
                                       select=Fragment(_main_qualified(d))))
            except duckdb.Error as exc:
                raise InstallError(f"{d.path}: {exc}") from None
            schema[view_set][d.name] = {c: "UNKNOWN" for c in view_columns(con, d.qualified)}
        _CHECKED.add(checked_key)
        con.execute(load_sql("viewset/record_load.sql"),
                    {"view_set": view_set, "version": set_version(view_set), "n_views": len(defs)})


def _main_qualified(d: ViewDef) -> str:
    """The view's SQL with its base tables written main.NAME: DuckDB binds a view's unqualified
    names in the view's own schema first, so v1.runs reading `runs` would read itself."""
    tree = d.tree.copy() if d.tree is not None else sqlglot.parse_one(d.sql, read="duckdb")
    for t in tree.find_all(exp.Table):
        if t.this.__class__ is exp.Identifier and not t.db and t.name in d.tables:
            t.set("db", exp.to_identifier("main"))
    return tree.sql(dialect="duckdb")


def view_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    """Column names of a created view (or table), in order."""
    view_set, _, name = qualified.rpartition(".")
    return catalog.table_columns(con, name, view_set or "main")


def loaded_versions(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """View set -> version hash recorded in the database at its last load."""
    return dict(con.execute(load_sql("viewset/loaded_versions.sql")).fetchall())


def transpile(view_set: str = "v1", dialect: str = "spark") -> list[str]:
    """The whole set as CREATE VIEW statements in ``dialect``, in dependency order."""
    if dialect not in DIALECTS:
        raise UsageError(f"unknown dialect {dialect!r}; choose one of {', '.join(DIALECTS)}")
    out = []
    for d in definitions(view_set):
        select = sqlglot.transpile(d.sql, read="duckdb", write=dialect, pretty=True)[0]
        out.append(render_sql("viewset/transpiled_view.sql", view_set=bare_ident(view_set), name=bare_ident(d.name),
                              select=Fragment(select)))
    return out
