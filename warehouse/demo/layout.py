"""GPT-OSS-20B layout replica: a real GGUF file with the real model's tensor table.

``warehouse/data/gpt-oss-20b/tensors.csv`` lists the 459 tensors of ``gpt-oss-20b-F16.gguf``
(name, ggml type, shape, offset inside the data section, size). The replica is written with the
``gguf`` package's own writer: header, realistic metadata (a 201,088-entry vocabulary included,
so header parsing costs what it costs on the real file) and the tensor-info table. A padding
string in the metadata makes the header exactly as long as the real one, so the data section
starts at the real file's 13,008,832 and every absolute offset matches. The 13.8 GB data section
is a hole: the file is extended with ``truncate`` and takes almost no disk space.

The replica is built once per cache folder (``MOEWH_CACHE``) and written atomically.
"""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ..db.store import Store
from ..paths import DATA_DIR, cache_dir

TENSORS_CSV = DATA_DIR / "gpt-oss-20b" / "tensors.csv"
# Bump the suffix whenever the recipe changes, so stale replicas in caches are not reused.
REPLICA_NAME = "gpt-oss-20b-replica-v1.gguf"
MODEL_NAME = "gpt-oss-20b"

# Facts of the real file (tests/data/gpt-oss-20b/README.md).
DATA_OFFSET = 13_008_832
FILE_SIZE = 13_792_639_168
N_VOCAB = 201_088
PADDING_KEY = "moewh.replica.header_padding"


@dataclass(frozen=True)
class TableEntry:
    name: str
    ggml_type: str
    dims: tuple[int, ...]  # ne0, ne1, ... with trailing 1s dropped
    data_offset: int
    n_bytes: int


def tensor_table() -> list[TableEntry]:
    """The bundled tensors.csv, in file order."""
    entries = []
    with open(TENSORS_CSV, newline="") as f:
        for row in csv.DictReader(f):
            ne = [int(row["ne0"]), int(row["ne1"]), int(row["ne2"])]
            while len(ne) > 1 and ne[-1] == 1:
                ne.pop()
            entries.append(TableEntry(row["name"], row["ggml_type"], tuple(ne),
                                      int(row["data_offset"]), int(row["n_bytes"])))
    entries.sort(key=lambda e: e.data_offset)
    return entries


def _add_metadata(writer, padding: int) -> None:
    from gguf.constants import GGUFValueType

    arch = "gpt-oss"
    writer.add_type("model")
    writer.add_name("Gpt Oss 20b")
    writer.add_file_type(1)  # MOSTLY_F16
    writer.add_quantization_version(2)
    writer.add_uint32(f"{arch}.block_count", 24)
    writer.add_uint32(f"{arch}.context_length", 131072)
    writer.add_uint32(f"{arch}.embedding_length", 2880)
    writer.add_uint32(f"{arch}.feed_forward_length", 2880)
    writer.add_uint32(f"{arch}.expert_feed_forward_length", 2880)
    writer.add_uint32(f"{arch}.attention.head_count", 64)
    writer.add_uint32(f"{arch}.attention.head_count_kv", 8)
    writer.add_uint32(f"{arch}.attention.key_length", 64)
    writer.add_uint32(f"{arch}.attention.value_length", 64)
    writer.add_uint32(f"{arch}.attention.sliding_window", 128)
    writer.add_float32(f"{arch}.attention.layer_norm_rms_epsilon", 1e-5)
    writer.add_float32(f"{arch}.rope.freq_base", 150000.0)
    writer.add_string(f"{arch}.rope.scaling.type", "yarn")
    writer.add_float32(f"{arch}.rope.scaling.factor", 32.0)
    writer.add_uint32(f"{arch}.rope.scaling.original_context_length", 4096)
    writer.add_uint32(f"{arch}.expert_count", 32)
    writer.add_uint32(f"{arch}.expert_used_count", 4)
    writer.add_string("tokenizer.ggml.model", "gpt2")
    writer.add_string("tokenizer.ggml.pre", "gpt-4o")
    # Stand-in tokens: the vocabulary's size and shape matter here, not its text.
    writer.add_array("tokenizer.ggml.tokens", [f"t{i}" for i in range(N_VOCAB)])
    writer.add_key_value("tokenizer.ggml.token_type", [1] * N_VOCAB, GGUFValueType.ARRAY,
                         sub_type=GGUFValueType.INT32)
    writer.add_uint32("tokenizer.ggml.bos_token_id", 199998)
    writer.add_uint32("tokenizer.ggml.eos_token_id", 200002)
    writer.add_uint32("tokenizer.ggml.padding_token_id", 199999)
    writer.add_string(PADDING_KEY, " " * padding)


def _write_header(path: Path, table: list[TableEntry], padding: int) -> int:
    """Write header, metadata and tensor infos with GGUFWriter; return the end of the infos."""
    import numpy as np
    from gguf import GGMLQuantizationType, GGUFWriter

    writer = GGUFWriter(path, "gpt-oss")
    _add_metadata(writer, padding)
    for e in table:
        # numpy order (reversed); the writer stores ne0 first. raw_dtype makes the shape an
        # element shape, and nbytes is the real size, so the writer's offsets are the file's.
        writer.add_tensor_info(e.name, tuple(reversed(e.dims)), np.dtype(np.float32), e.n_bytes,
                               raw_dtype=GGMLQuantizationType[e.ggml_type])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    end = writer.fout[0].tell()
    writer.close()
    return end


def build_replica(path: Path) -> None:
    """Write the replica to ``path`` (atomically: a temp file in the same folder, then rename)."""
    table = tensor_table()
    expected_size = DATA_OFFSET + table[-1].data_offset + table[-1].n_bytes
    if expected_size != FILE_SIZE:
        raise RuntimeError(f"{TENSORS_CSV}: table ends at {expected_size}, expected {FILE_SIZE}")
    fd, tmp_name = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        # First pass measures the header with a 1-byte padding string; the second sizes the
        # padding so the tensor-info section ends exactly where the real data section starts.
        end = _write_header(tmp, table, 1)
        padding = 1 + DATA_OFFSET - end
        if padding < 1:
            raise RuntimeError(f"replica header is {end} bytes, longer than the real {DATA_OFFSET}")
        end = _write_header(tmp, table, padding)
        if end != DATA_OFFSET:
            raise RuntimeError(f"replica header ends at {end}, expected {DATA_OFFSET}")
        os.truncate(tmp, FILE_SIZE)  # the data section: a hole, no blocks on disk
        _verify(tmp, table)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def _verify(path: Path, table: list[TableEntry]) -> None:
    from ..formats.gguf.layout import read_gguf_layout

    layout = read_gguf_layout(path)
    got = [(t.name, t.ggml_type, t.dims, t.offset, t.size_bytes) for t in layout.tensors]
    want = [(e.name, e.ggml_type, e.dims, e.data_offset, e.n_bytes) for e in table]
    if layout.data_offset != DATA_OFFSET or got != want:
        raise RuntimeError(f"{path}: the written tensor table differs from {TENSORS_CSV}")


def replica_path() -> Path:
    """Path of the replica in the cache folder, building it first if it is missing."""
    path = cache_dir() / REPLICA_NAME
    if path.is_file() and path.stat().st_size == FILE_SIZE:
        return path
    print(f"building the GPT-OSS-20B layout replica in {path} (sparse, once) ...", file=sys.stderr)
    build_replica(path)
    return path


def ingest_replica(store: Store) -> str:
    """Build (once, in the cache folder) and ingest the replica; return its model_id."""
    from ..ingest.models import decode_gguf, store_layout

    decoded = decode_gguf(replica_path(), name=MODEL_NAME)
    with store.transaction() as con:
        result = store_layout(con, decoded)
    state = "ingested" if result.created else "already present:"
    print(f"{state} model {MODEL_NAME} ({result.model_id}), {result.n_rows} layout rows", file=sys.stderr)
    return result.model_id
