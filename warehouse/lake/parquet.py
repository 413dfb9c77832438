"""The warehouse as a Hive-partitioned Parquet lake, for engines bigger than one DuckDB file.

Layout of a lake directory::

    LAKE/manifest.json                              what the lake holds (see below)
    LAKE/<run table>/run_id=<id>/data_0.parquet     runs, records, sources, passes, ...
    LAKE/<model table>/model_id=<id>/data_0.parquet models, model_metadata, tensors
    LAKE/<other table>/data_0.parquet               small tables with neither (settings)

A table that has a ``run_id`` column is partitioned by run (``runs`` too, whose ``model_id`` is
an ordinary column); one with only ``model_id`` is partitioned by model. Partition values are
URL-escaped in directory names (as DuckDB writes and Spark, Trino and DuckDB read them), and
the partition column is not stored inside the files, as Hive expects.

The lake is a union of exports: exporting runs replaces exactly those runs' partitions (and
their models'), leaving everything else in the lake alone, so several warehouses can feed one
lake. The manifest records the schema and view-set versions, every table with its columns and
DuckDB types, and every run and model with its row count per table; importing checks the
counts, so a half-copied lake is refused rather than loaded.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote

import duckdb
import pyarrow as pa

from ..db import catalog
from ..db import viewset as views
from ..db.lookup import all_model_ids, all_run_ids, resolve_runs
from ..db.sqlfiles import ident, idents, literal, literals, load_sql, render_sql
from ..db.store import schema_version
from ..errors import DatabaseError, InputError, UsageError

MANIFEST = "manifest.json"
LAKE_FORMAT = "moewh-parquet-lake"
LAKE_FORMAT_VERSION = 1
_TMP_PREFIX = ".export-"  # hidden from Spark, Trino and Hive, which skip names starting with . or _


@dataclass
class LakeTable:
    name: str
    columns: list[tuple[str, str]]  # (name, DuckDB type) in table order
    partition_by: str | None  # run_id, model_id or None

    @property
    def column_names(self) -> list[str]:
        return [c for c, _ in self.columns]

    def to_json(self) -> dict:
        return {"partition_by": self.partition_by,
                "columns": [{"name": c, "type": t} for c, t in self.columns]}

    @classmethod
    def from_json(cls, name: str, data: dict) -> LakeTable:
        return cls(name, [(c["name"], c["type"]) for c in data["columns"]], data.get("partition_by"))


@dataclass
class LakeSummary:
    """What an export or import did."""

    path: Path
    runs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    rows: dict[str, int] = field(default_factory=dict)  # table -> rows written or loaded

    def describe(self, verb: str) -> str:
        total = sum(self.rows.values())
        return (f"{verb} {len(self.runs)} run(s), {len(self.models)} model(s), {total} rows "
                f"in {len(self.rows)} tables: {self.path}")


def base_tables(con: duckdb.DuckDBPyConnection) -> list[LakeTable]:
    """The warehouse's base tables with their partition column."""
    tables = []
    for name, cols in catalog.data_tables(con).items():
        names = {c for c, _ in cols}
        part = "run_id" if "run_id" in names else "model_id" if "model_id" in names else None
        tables.append(LakeTable(name, cols, part))
    return tables


def read_manifest(lake: str | os.PathLike) -> dict:
    path = Path(lake) / MANIFEST
    if not path.is_file():
        raise InputError(path, "no lake manifest here; write a lake with `moewh export parquet DIR`")
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a readable lake manifest: {exc}") from None
    check_manifest(manifest, path)
    return manifest


def check_manifest(manifest: object, path: str | os.PathLike) -> None:
    if not isinstance(manifest, dict) or manifest.get("format") != LAKE_FORMAT:
        raise InputError(path, f"not a moewh lake manifest (format is not {LAKE_FORMAT!r})")
    if manifest.get("format_version", 0) > LAKE_FORMAT_VERSION:
        raise InputError(path, f"lake format version {manifest.get('format_version')} is newer than this "
                               f"moewh understands ({LAKE_FORMAT_VERSION}); upgrade moe-trace-warehouse")
    for key in ("schema_version", "tables", "runs", "models"):
        if key not in manifest:
            raise InputError(path, f"lake manifest lacks {key!r}")
    if not isinstance(manifest["schema_version"], int) or manifest["schema_version"] > schema_version():
        raise DatabaseError(f"{path}: lake written by a newer moewh (schema {manifest['schema_version']!r}; "
                            f"this build knows up to {schema_version():03d})")


def manifest_tables(manifest: dict) -> list[LakeTable]:
    return [LakeTable.from_json(name, data) for name, data in sorted(manifest["tables"].items())]


def _partition_dirs(table_dir: Path, column: str) -> dict[str, Path]:
    """Partition value (unescaped) -> directory, for the partitions present under table_dir."""
    found = {}
    if table_dir.is_dir():
        for child in table_dir.iterdir():
            key, sep, value = child.name.partition("=")
            if sep and key == column and child.is_dir():
                found[unquote(value)] = child
    return found


def _run(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    # DuckDB 2 keeps a statement's result (a row count) open until fetched; finish it so the
    # connection is free for register() and the next statement.
    con.execute(sql).fetchall()


def _resolve_runs(con: duckdb.DuckDBPyConnection, wanted: list[str] | None) -> list[str]:
    return all_run_ids(con) if wanted is None else resolve_runs(con, wanted)


def _check_partition_value(column: str, value: str) -> None:
    # DuckDB percent-encodes UTF-8 bytes in directory names, while Hive, Spark and Trino decode
    # each %XX as one character; only printable ASCII survives every engine unchanged. Real ids
    # are hex fingerprints, so this only stops hand-made ids.
    if not value or not all(" " <= ch <= "~" for ch in value):
        raise UsageError(f"{column} {value!r} cannot name a Hive partition portably (printable ASCII only)")


def _lake_dir_for_export(lake: Path) -> dict | None:
    """The existing manifest, None for a new lake; refuses a directory that is something else."""
    if (lake / MANIFEST).exists():
        manifest = read_manifest(lake)
        if manifest["schema_version"] != schema_version():
            raise UsageError(
                f"{lake}: lake holds schema {manifest['schema_version']:03d} tables, this warehouse is "
                f"schema {schema_version():03d}; export into a new directory")
        return manifest
    if lake.exists() and (not lake.is_dir() or any(p for p in lake.iterdir() if not p.name.startswith(_TMP_PREFIX))):
        raise UsageError(f"{lake}: exists and is not a moewh lake (no {MANIFEST}); choose an empty or new directory")
    return None


def export_parquet(con: duckdb.DuckDBPyConnection, lake: str | os.PathLike,
                   runs: list[str] | None = None, progress: bool = False) -> LakeSummary:
    """Write the base tables into the lake at ``lake``: all runs and models, or ``runs`` (ids or
    unique names) and the models they were read against. Replaces only those partitions."""
    lake = Path(lake)
    old = _lake_dir_for_export(lake)
    run_ids = _resolve_runs(con, runs)
    if runs is None:
        model_ids = sorted(all_model_ids(con))
    else:
        con.register("_lake_runs", pa.table({"run_id": pa.array(run_ids, pa.string())}))
        model_ids = [r[0] for r in con.execute(load_sql("lake/models_of_runs.sql")).fetchall()]
    for kind, ids in (("run_id", run_ids), ("model_id", model_ids)):
        for i in ids:
            _check_partition_value(kind, i)
    con.register("_lake_runs", pa.table({"run_id": pa.array(run_ids, pa.string())}))
    con.register("_lake_models", pa.table({"model_id": pa.array(model_ids, pa.string())}))
    selected = {"run_id": ("_lake_runs", run_ids), "model_id": ("_lake_models", model_ids)}

    tables = base_tables(con)
    lake.mkdir(parents=True, exist_ok=True)
    tmp = lake / f"{_TMP_PREFIX}{uuid.uuid4().hex[:12]}"
    tmp.mkdir()
    summary = LakeSummary(lake, run_ids, model_ids)
    counts: dict[str, dict[str, dict[str, int]]] = {"run_id": {i: {} for i in run_ids},
                                                    "model_id": {i: {} for i in model_ids}}
    try:
        for t in tables:
            if progress:
                print(f"exporting {t.name} ...", file=sys.stderr)
            target = tmp / t.name
            cols, table = idents(t.column_names), ident(t.name)
            if t.partition_by is None:
                target.mkdir()
                _run(con, render_sql("lake/export_table.sql", columns=cols, table=table,
                                     target=literal(str(target / "data_0.parquet"))))
                summary.rows[t.name] = con.execute(render_sql("lake/count_table.sql", table=table)).fetchall()[0][0]
                continue
            part = t.partition_by
            reg, _ = selected[part]
            _run(con, render_sql("lake/export_partitions.sql", columns=cols, table=table, part=ident(part),
                                 selection=ident(reg), target=literal(str(target))))
            per_id = con.execute(render_sql("lake/count_partitions.sql", table=table, part=ident(part),
                                            key=ident(part), selection=ident(reg))).fetchall()
            for key, n in per_id:
                counts[part][key][t.name] = n
            summary.rows[t.name] = sum(n for _, n in per_id)

        # Swap partitions in: old ones of the exported runs/models go (even where the new export
        # has no rows for a table), new ones are renamed in from the same file system.
        trash = tmp / "_replaced"
        trash.mkdir()
        for t in tables:
            final = lake / t.name
            staged = tmp / t.name
            if t.partition_by is None:
                if final.exists():
                    final.rename(trash / t.name)
                staged.rename(final)
                continue
            final.mkdir(exist_ok=True)
            ids = set(selected[t.partition_by][1])
            for value, path in _partition_dirs(final, t.partition_by).items():
                if value in ids:
                    path.rename(trash / f"{t.name}.{path.name}")
            for path in _partition_dirs(staged, t.partition_by).values():
                path.rename(final / path.name)

        _write_manifest(con, lake, old, tables, run_ids, model_ids, counts)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
        for name in ("_lake_runs", "_lake_models"):
            try:
                con.unregister(name)
            except duckdb.Error:
                pass
    return summary


def _write_manifest(con, lake: Path, old: dict | None, tables: list[LakeTable], run_ids: list[str],
                    model_ids: list[str], counts: dict) -> None:
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    runs = {r["run_id"]: r for r in (old or {}).get("runs", [])}
    models = {m["model_id"]: m for m in (old or {}).get("models", [])}
    if run_ids:
        info = con.execute(load_sql("lake/manifest_runs.sql")).fetchall()
        for run_id, name, model_id in info:
            runs[run_id] = {"run_id": run_id, "run_name": name, "model_id": model_id, "exported_at": now,
                            "rows": counts["run_id"][run_id]}
    if model_ids:
        info = con.execute(load_sql("lake/manifest_models.sql")).fetchall()
        for model_id, name in info:
            models[model_id] = {"model_id": model_id, "model_name": name, "exported_at": now,
                                "rows": counts["model_id"][model_id]}
    manifest = {
        "format": LAKE_FORMAT,
        "format_version": LAKE_FORMAT_VERSION,
        "schema_version": schema_version(),
        "view_set": "v1",
        "view_set_version": views.set_version("v1"),
        "written_at": now,
        "tables": {t.name: t.to_json() for t in tables},
        "runs": sorted(runs.values(), key=lambda r: r["run_id"]),
        "models": sorted(models.values(), key=lambda m: m["model_id"]),
    }
    staged = lake / (MANIFEST + ".tmp")
    staged.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(staged, lake / MANIFEST)


def import_parquet(con: duckdb.DuckDBPyConnection, lake: str | os.PathLike,
                   runs: list[str] | None = None, progress: bool = False) -> LakeSummary:
    """Load the lake (or only ``runs`` of it and their models) into the warehouse behind ``con``.

    Runs and models already in the warehouse are replaced, so importing twice changes nothing.
    Call inside the store's transaction: a lake whose files disagree with its manifest raises
    and leaves the warehouse as it was.
    """
    lake = Path(lake)
    manifest = read_manifest(lake)
    lake_runs = {r["run_id"]: r for r in manifest["runs"]}
    if runs is None:
        run_ids = sorted(lake_runs)
        model_ids = sorted(m["model_id"] for m in manifest["models"])
    else:
        by_name = {}
        for r in manifest["runs"]:
            by_name.setdefault(r["run_name"], []).append(r["run_id"])
        run_ids = []
        for w in runs:
            ids = [w] if w in lake_runs else by_name.get(w, [])
            if len(ids) != 1:
                raise UsageError(f"{lake}: no single run {w!r} in the lake" +
                                 (f" ({len(ids)} share that name)" if ids else ""))
            run_ids += [i for i in ids if i not in run_ids]
        lake_models = {m["model_id"] for m in manifest["models"]}
        model_ids = sorted({lake_runs[r]["model_id"] for r in run_ids} & lake_models)
    selected = {"run_id": run_ids, "model_id": model_ids}
    expected = {"run_id": {i: lake_runs[i].get("rows", {}) for i in run_ids},
                "model_id": {m["model_id"]: m.get("rows", {}) for m in manifest["models"]}}

    here = {t.name: t for t in base_tables(con)}
    summary = LakeSummary(lake, run_ids, model_ids)
    for t in manifest_tables(manifest):
        if t.name not in here:
            raise DatabaseError(f"{lake}: lake table {t.name!r} does not exist in this warehouse")
        if progress:
            print(f"importing {t.name} ...", file=sys.stderr)
        cols = idents(c for c in t.column_names if c != t.partition_by)
        table = ident(t.name)
        table_dir = lake / t.name
        if t.partition_by is None:
            files = sorted(table_dir.glob("*.parquet"))
            if not files:
                continue
            paths = literals(str(f) for f in files)
            # e.g. settings, keyed: the lake's value of a key wins
            statement = "lake/import_replace.sql" if catalog.primary_key(con, t.name) else "lake/import_missing.sql"
            _run(con, render_sql(statement, table=table, columns=cols, files=paths))
            summary.rows[t.name] = con.execute(render_sql("lake/count_files.sql", files=paths)).fetchall()[0][0]
            continue

        part = t.partition_by
        ids = selected[part]
        if not ids:
            summary.rows[t.name] = 0
            continue
        con.register("_lake_ids", pa.table({"id": pa.array(ids, pa.string())}))
        try:
            _run(con, render_sql("lake/delete_partitions.sql", table=table, part=ident(part)))
            dirs = _partition_dirs(table_dir, part)
            files = [f for i in ids if i in dirs for f in sorted(dirs[i].glob("*.parquet"))]
            if files:
                _run(con, render_sql("lake/import_partitions.sql", table=table, part=ident(part), columns=cols,
                                     files=literals(str(f) for f in files), hive_key=literal(part)))
            got = dict(con.execute(render_sql("lake/count_partitions.sql", table=table, part=ident(part),
                                              key=ident("id"), selection=ident("_lake_ids"))).fetchall())
        finally:
            con.unregister("_lake_ids")
        for i in ids:
            want = expected[part].get(i, {}).get(t.name, 0)
            if got.get(i, 0) != want:
                raise InputError(table_dir / f"{part}={i}",
                                 f"{got.get(i, 0)} rows in the lake's files, the manifest says {want}; "
                                 "the lake is incomplete or was changed by hand")
        summary.rows[t.name] = sum(got.values())
    return summary
