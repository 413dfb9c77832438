"""Arrow tables held for later, in memory while they are few rows and in a temporary file after.

Trace ingest writes each table with one streaming INSERT, so the anomalies found along the way
cannot be inserted until those statements are done. A clean trace has none; a corrupt one may
have one or more per record, millions of rows of text, which would otherwise all sit in memory.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.ipc

# Rows kept in memory before the spool moves to a file: a few MB of anomaly texts.
MEMORY_ROWS = 1 << 16


class Spool:
    def __init__(self, memory_rows: int | None = None):
        self.memory_rows = MEMORY_ROWS if memory_rows is None else memory_rows
        self._held: list[pa.Table] = []
        self._rows = 0
        self._file = None
        self._writer: pa.ipc.RecordBatchStreamWriter | None = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def add(self, table: pa.Table) -> None:
        if not table.num_rows:
            return
        self._held.append(table)
        self._rows += table.num_rows
        if self._rows >= self.memory_rows:
            self._spill()

    def _spill(self) -> None:
        if self._writer is None:
            self._file = tempfile.TemporaryFile(prefix="moewh-spool-")
            self._writer = pa.ipc.new_stream(self._file, self._held[0].schema)
        for t in self._held:
            self._writer.write_table(t)
        self._held, self._rows = [], 0

    def tables(self) -> Iterator[pa.Table]:
        """Every table added, in order (the spool is read once)."""
        if self._writer is not None:
            self._spill()
            self._writer.close()
            self._writer = None
            self._file.seek(0)
            reader = pa.ipc.open_stream(self._file)
            for batch in reader:
                yield pa.Table.from_batches([batch])
        yield from self._held

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if self._file is not None:
            self._file.close()
            self._file = None
