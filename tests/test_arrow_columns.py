"""The decoders' own NumPy -> Arrow conversion against pyarrow's pa.array as the oracle."""

import subprocess
import sys

import numpy as np
import pyarrow as pa
import pytest

from warehouse.ingest.arrow_columns import column, dictionary_column, numbers, rows_table, strings


@pytest.mark.parametrize("dtype", [np.int8, np.int16, np.int32, np.int64, np.uint16, np.uint64, np.float64])
def test_column_equals_pa_array_with_and_without_nulls(dtype):
    rng = np.random.default_rng(3)
    values = rng.integers(0, 100, size=(257, 3)).astype(dtype)[:, 1]  # strided, like a record field
    null = rng.random(257) < 0.3
    assert column(values).equals(pa.array(values))
    assert column(values, null).equals(pa.array(values, mask=null))
    assert column(values, np.zeros(257, bool)).null_count == 0


def test_structured_little_endian_fields_and_refusals():
    rec = np.zeros(4, dtype=[("a", "<u8"), ("b", "<i4")])
    rec["a"] = [1, 2**63, 3, 2**64 - 1]
    assert column(rec["a"]).to_pylist() == [1, 2**63, 3, 2**64 - 1]
    with pytest.raises(TypeError):
        column(np.array([b"x"]))
    with pytest.raises(ValueError):
        column(np.arange(3), np.zeros(2, bool))


def test_strings_and_dictionary_columns():
    texts = ["", "blk.0.ffn_gate_exps.weight", "héllo ✓", "a\0b"]
    assert strings(texts).equals(pa.array(texts, pa.string()))
    idx = np.array([3, 0, 1, 1, 2], np.int16)
    null = np.array([False, True, False, False, False])
    got = dictionary_column(idx, texts, null)
    assert got.to_pylist() == [texts[3], None, texts[1], texts[1], texts[2]]
    assert numbers(pa.array(np.arange(10, dtype=np.int32)).slice(3, 4)).tolist() == [3, 4, 5, 6]


def test_trace_ingest_does_not_import_pandas(tmp_path):
    # pa.array and Array.to_numpy import pandas (about 0.3 s); a trace ingest must not need it.
    code = (
        "import sys\n"
        "from warehouse.db.store import open_store\n"
        "from warehouse.ingest.traces import ingest_trace\n"
        "from warehouse.synth import generate_run\n"
        f"path = {str(tmp_path / 't.bin')!r}\n"
        "generate_run(path, domain='code', n_steps=5, seed=5, corrupt=None)\n"
        f"store = open_store({str(tmp_path / 'w.duckdb')!r})\n"
        "with store.transaction() as con:\n"
        "    ingest_trace(con, path, experts_used=4)\n"
        "print('pandas' in sys.modules)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"


def test_rows_table_equals_from_pylist():
    schema = pa.schema([("name", pa.string()), ("n", pa.int32()), ("big", pa.int64()), ("x", pa.float64()),
                        ("tags", pa.list_(pa.string()))])
    rows = [
        {"name": "a", "n": 1, "big": 2**40, "x": 0.5, "tags": ["p", "q"]},
        {"name": None, "n": None, "big": -1, "x": None, "tags": None},
        {"name": "ü", "n": -7, "x": 1e300, "tags": []},  # a missing key is null too
    ]
    assert rows_table(rows, schema).equals(pa.Table.from_pylist(rows, schema=schema))
    with pytest.raises(TypeError):
        rows_table(rows, pa.schema([("when", pa.timestamp("s"))]))
