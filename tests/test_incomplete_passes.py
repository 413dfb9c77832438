"""A trace cut inside a pass (a killed tracer stops on a record boundary): that pass is not a
decode step, v1.trace_quality counts it, and the ingest names it."""

from __future__ import annotations

import numpy as np
import pytest
from trace_samples import ingest, rows, store_with_layout

from warehouse.db.store import open_store
from warehouse.formats.trace.records import RECORD_DTYPE
from warehouse.synth import generate_run


def _cut(tmp_path, keep_of_last: int):
    """A synthetic trace whose last pass keeps only its first ``keep_of_last`` records."""
    truth = generate_run(tmp_path / "full.bin", domain="math", n_steps=5, seed=9, warmup=True)
    rec = np.fromfile(truth.path, dtype=RECORD_DTYPE)
    last = truth.passes[-1]
    cut = tmp_path / "cut.bin"
    rec[: last.first_record_id + keep_of_last].tofile(cut)
    return truth, cut


@pytest.mark.parametrize("with_model", [True, False])
def test_cut_pass_is_not_a_decode_step(db_path, tmp_path, with_model):
    truth, cut = _cut(tmp_path, keep_of_last=400)  # 848 records per pass: stops about half way
    if with_model:
        store, model_id = store_with_layout(db_path)
    else:
        store, model_id = open_store(db_path), None
    result = ingest(store, cut, model_id=model_id, experts_used=None if with_model else 4)
    last = truth.passes[-1]
    warning = next(w for w in result.warnings if "incomplete" in w)
    assert f"pass {last.pass_id} " in warning and f"{last.first_record_id:,}-{last.first_record_id + 399:,}" in warning
    con = store.con
    assert rows(con, "select pass_id from v1.passes where not is_complete") == [(last.pass_id,)]
    assert rows(con, "select incomplete_passes from v1.trace_quality") == [(1,)]
    steps = [p.pass_id for p in truth.passes[:-1] if not p.is_warmup]
    assert [r[0] for r in rows(con, "select pass_id from v1.decode_steps order by step")] == steps
    if with_model:
        # every remaining step read a whole pass's bytes; none is the cut one's ~half
        totals = {r[0] for r in rows(con, "select total_bytes from v1.pass_bytes")}
        assert min(totals) > 0.95 * max(totals)
    store.close()


def test_whole_trace_has_only_complete_passes(db_path, tmp_path):
    truth = generate_run(tmp_path / "t.bin", domain="math", n_steps=3, seed=9, warmup=True)
    store, model_id = store_with_layout(db_path)
    result = ingest(store, truth.path, model_id=model_id)
    assert not any("incomplete" in w for w in result.warnings)
    assert rows(store.con, "select count(*), count(case when is_complete then 1 end) from v1.passes") \
        == [(truth.n_passes, truth.n_passes)]
    store.close()
