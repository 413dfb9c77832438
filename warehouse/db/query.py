"""`moewh query`: read-only SQL over the warehouse, with bound parameters, streamed.

The statement guards and the connection's configuration are ``readonly``'s, the same as the
dashboard console's; this module adds opening the warehouse (upgrading an old one first).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import UsageError
from . import readonly
from .store import open_store


def parse_params(pairs: list[str]) -> dict[str, object]:
    """``name=value`` pairs; values that read as numbers are bound as numbers."""
    params: dict[str, object] = {}
    for pair in pairs:
        name, sep, raw = pair.partition("=")
        if not sep or not name.isidentifier():
            raise UsageError(f"--param takes name=value, got {pair!r}")
        value: object = raw
        for cast in (int, float):
            try:
                value = cast(raw)
                break
            except ValueError:
                pass
        params[name] = value
    return params


@contextmanager
def query_stream(db: str, sql: str, params: dict[str, object] | None = None, *, allow_files: bool = False,
                 max_rows: int | None = None, timeout_s: float | None = None,
                 batch_rows: int = 4096) -> Iterator[readonly.Stream]:
    """Run ``sql`` read-only; yields the ``readonly.Stream`` of its batches while the warehouse is open.

    The statement is checked before the warehouse is opened, so a refused one never waits
    for a lock.
    """
    readonly.check_statement(sql)
    with open_store(db, read_only=True, config=readonly.config(allow_files=allow_files)) as store:
        yield readonly.stream(store.con, sql, params, batch_rows=batch_rows, max_rows=max_rows,
                              timeout_s=timeout_s)


def run_query(db: str, sql: str, params: dict[str, object] | None = None, **limits):
    """The whole result of ``sql`` as one Arrow table (for small results; the CLI streams)."""
    import pyarrow as pa

    with query_stream(db, sql, params, **limits) as result:
        return pa.Table.from_batches(list(result.batches), schema=result.schema)
