"""A layout read from an old file is the model it describes: a memory-map.json whose rows
equal a GGUF-ingested model's is that model, one that matches none is named after its
model_name, not after the file."""

from __future__ import annotations

import json
import shutil

import pytest
from layout_samples import shared_replica
from trace_samples import MEMORY_MAP, REAL_TRACE

from warehouse.db.store import open_store


@pytest.fixture(scope="module")
def replica(tmp_path_factory):
    return shared_replica(tmp_path_factory)


def _models(db_path):
    with open_store(db_path, read_only=True) as s:
        return s.con.execute("select model_id, model_name, source_kind from v1.models order by 1").fetchall()


def test_memory_map_of_an_ingested_gguf_is_that_model(cli, db_path, replica, tmp_path):
    code, out, err = cli("ingest", "model", str(replica), "--name", "gpt-oss-20b")
    assert code == 0, err
    [(gguf_id, _, _)] = _models(db_path)
    code, out, err = cli("ingest", "layout", str(MEMORY_MAP))
    assert code == 0, err
    assert f"describes model {gguf_id} (gpt-oss-20b)" in out
    assert _models(db_path) == [(gguf_id, "gpt-oss-20b", "gguf")]

    # an experiment folder with its memory-map.json copy: the run is read against the GGUF's model
    run = tmp_path / "exp" / "p1"
    run.mkdir(parents=True)
    shutil.copy(REAL_TRACE, run / "tensor_trace.bin")
    shutil.copy(MEMORY_MAP, run / "memory-map.json")
    code, out, err = cli("ingest", "dir", str(tmp_path / "exp"))
    assert code == 0, err
    assert "memory-map.json describes model gpt-oss-20b" in err
    with open_store(db_path, read_only=True) as s:
        assert s.con.execute("select model_id, experts_used, experts_used_source from v1.runs").fetchall() \
            == [(gguf_id, 4, "model")]
    assert len(_models(db_path)) == 1


def test_unmatched_memory_map_is_named_after_its_model(cli, db_path, tmp_path):
    code, out, err = cli("ingest", "layout", str(MEMORY_MAP))
    assert code == 0, err
    [(mid, name, kind)] = _models(db_path)
    assert (name, kind) == (json.loads(MEMORY_MAP.read_text())["model_name"], "memory-map-json")

    # one tensor moved: not the same layout, so a second model
    doc = json.loads(MEMORY_MAP.read_text())
    doc["model_name"] = "moved"
    doc["tensors"][-1]["offset_start"] += 32
    doc["tensors"][-1]["offset_end"] += 32
    other = tmp_path / "memory-map.json"
    other.write_text(json.dumps(doc))
    code, out, err = cli("ingest", "layout", str(other))
    assert code == 0, err
    assert "describes" not in out
    assert sorted(n for _, n, _ in _models(db_path)) == ["moved", "temp_model"]
