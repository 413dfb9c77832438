"""A small but complete warehouse for the dashboard tests, written straight into the base tables.

The model is the real GPT-OSS-20B tensor table (the bundled tensors.csv) split per expert the
way the schema describes; the runs are seeded random routing over it, with a warm-up pass, a
prompt pass and generate passes, and the records, sources and expert ids a trace of them would
hold. The views compute everything the dashboard shows from these rows.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from datetime import datetime

import numpy as np
import pandas as pd

from warehouse.db.store import open_store
from warehouse.paths import DATA_DIR

MODEL_ID = "f00dfeedmodel0001"
N_LAYERS, N_EXPERTS, K = 24, 32, 4
DATA_OFFSET = 13_008_832
FILE_SIZE = 13_792_639_168


@dataclass(frozen=True)
class RunSpec:
    name: str
    experiment: str
    domain: str
    source: str  # tag source=real|synthetic
    n_generate: int
    seed: int


DEFAULT_RUNS = (
    RunSpec("code-1", "exp-a", "code", "synthetic", 10, 1),
    RunSpec("code-2", "exp-a", "code", "synthetic", 8, 2),
    RunSpec("math-1", "exp-a", "math", "synthetic", 12, 3),
    RunSpec("chat-1", "exp-b", "chat", "real", 6, 4),
)


def _category(component: str, name: str) -> str:
    if component.endswith("_exps"):
        return "expert_bias" if name.endswith(".bias") else "expert"
    if component == "ffn_gate_inp":
        return "router"
    if component.startswith("attn_") and not component.endswith("norm"):
        return "attention"
    if component.endswith("norm"):
        return "norm"
    if component.startswith("ffn"):
        return "ffn"
    if component == "token_embd":
        return "embedding"
    if component == "output":
        return "output"
    return "other"


def layout_rows() -> pd.DataFrame:
    rows = []
    with open(DATA_DIR / "gpt-oss-20b" / "tensors.csv") as fh:
        for rec in csv.DictReader(fh):
            name = rec["name"]
            m = re.match(r"blk\.(\d+)\.(.+)$", name)
            layer = int(m.group(1)) if m else None
            rest = m.group(2) if m else name
            component = re.sub(r"\.(weight|bias)$", "", rest)
            ne = [int(rec["ne0"]), int(rec["ne1"]), int(rec["ne2"])]
            n_dims = 3 if ne[2] > 1 else (2 if ne[1] > 1 else 1)
            start = DATA_OFFSET + int(rec["data_offset"])
            size = int(rec["n_bytes"])
            base = dict(model_id=MODEL_ID, base_name=name, layer_id=layer, component=component,
                        category=_category(component, name), ggml_type=rec["ggml_type"],
                        ne3=1, file_index=int(rec["index"]))
            if component.endswith("_exps"):
                # weights [ne0, ne1, E] and biases [ne0, E]: E equal contiguous slices
                n = ne[2] if n_dims == 3 else ne[1]
                per = size // n
                for e in range(n):
                    rows.append(dict(base, tensor_name=f"{name}[{e}]", expert_id=e, n_dims=n_dims - 1,
                                     ne0=ne[0], ne1=ne[1] if n_dims == 3 else 1, ne2=1,
                                     offset_start=start + e * per, offset_end=start + (e + 1) * per,
                                     size_bytes=per))
            else:
                rows.append(dict(base, tensor_name=name, expert_id=None, n_dims=n_dims, ne0=ne[0],
                                 ne1=ne[1], ne2=ne[2], offset_start=start, offset_end=start + size,
                                 size_bytes=size))
    df = pd.DataFrame(rows)
    df["expert_id"] = df["expert_id"].astype("Int64")
    df["layer_id"] = df["layer_id"].astype("Int64")
    return df


def _whole_tensor_offsets(layout: pd.DataFrame) -> dict[str, int]:
    return layout.groupby("base_name")["offset_start"].min().to_dict()


def _run_tables(spec: RunSpec, offsets: dict[str, int], t0: int):
    rng = np.random.default_rng(spec.seed)
    run_id = f"run{spec.seed:04d}{spec.domain}"
    # a domain-specific preference over experts per layer, so heatmaps have structure
    pref = rng.dirichlet(np.full(N_EXPERTS, 0.3), size=N_LAYERS)
    passes, selections, records, sources, rexperts = [], [], [], [], []
    rid = 0
    t = t0
    n_passes = 2 + spec.n_generate
    for pass_id in range(n_passes):
        warm = pass_id == 0
        phase = "PROMPT" if pass_id <= 1 else "GENERATE"
        first = rid
        t_start = t
        for layer in range(N_LAYERS):
            if warm:
                ids = list(rng.permutation(N_EXPERTS)[:16])
            else:
                ids = list(rng.choice(N_EXPERTS, size=K, replace=False, p=pref[layer]))
                selections += [dict(run_id=run_id, pass_id=pass_id, layer_id=layer, rank=r, expert_id=int(e))
                               for r, e in enumerate(ids)]
            # attention matmul (a DISK source) then gate/up/down MUL_MAT_ID with expert ids
            ops = [("MUL_MAT", 29, f"blk.{layer}.attn_q.weight", f"Qcur-{layer}")] + [
                ("MUL_MAT_ID", 30, f"blk.{layer}.ffn_{p}_exps.weight", f"ffn_moe_{p}-{layer}")
                for p in ("gate", "up", "down")]
            for op_name, code, weight, dst in ops:
                records.append(dict(run_id=run_id, record_id=rid, pass_id=pass_id, timestamp_ns=t,
                                    token_id=max(pass_id - 1, 0), layer_id=layer, thread_id=7, op_code=code,
                                    op_name=op_name, phase=phase, num_sources=1,
                                    num_experts=len(ids) if code == 30 else 0, dst_name=dst))
                sources.append(dict(run_id=run_id, record_id=rid, slot=0, name=weight, tensor_ptr=1 << 40,
                                    size_bytes=0, layer_id=layer, memory_source="DISK",
                                    disk_offset=offsets[weight], buffer_id=None, tensor_idx=None))
                if code == 30:
                    rexperts += [dict(run_id=run_id, record_id=rid, slot=s, expert_id=int(e))
                                 for s, e in enumerate(ids)]
                rid += 1
                t += 1000
        passes.append(dict(run_id=run_id, pass_id=pass_id, token_id=max(pass_id - 1, 0), phase=phase,
                           n_records=rid - first, n_batch_tokens=1, ids_per_token=N_EXPERTS if warm else K,
                           is_warmup=warm, t_start_ns=t_start, t_end_ns=t - 1000,
                           first_record_id=first, last_record_id=rid - 1))
        t += 50_000
    run = dict(run_id=run_id, run_name=spec.name, experiment=spec.experiment, domain=spec.domain,
               prompt=f"a {spec.domain} prompt", n_predict=spec.n_generate, model_id=MODEL_ID,
               source_path=f"/data/{spec.name}/tensor_trace.bin", source_format="trace-1024",
               op_table="ggml-2026-01", n_records=rid, n_passes=n_passes, experts_used=K,
               experts_used_source="model", file_size_bytes=rid * 1024, skipped_tail_bytes=0,
               dropped_partial_bytes=0, hole_records=0, ingested_at=datetime(2026, 1, 1))
    return run, passes, selections, records, sources, rexperts


def build(db_path: str, runs=DEFAULT_RUNS, with_anomaly: bool = True) -> None:
    layout = layout_rows()
    offsets = _whole_tensor_offsets(layout)
    model = pd.DataFrame([dict(
        model_id=MODEL_ID, model_name="gpt-oss-20b-test", source_kind="gguf-dump-csv",
        source_path=str(DATA_DIR / "gpt-oss-20b" / "tensors.csv"), file_name="gpt-oss-20b-F16.gguf",
        file_size_bytes=FILE_SIZE, gguf_version=3, architecture="gpt-oss", n_layers=N_LAYERS,
        n_experts=N_EXPERTS, n_experts_used=K, n_embd=2880, n_vocab=201088, data_offset=DATA_OFFSET,
        alignment=32, n_tensors=459, ingested_at=datetime(2026, 1, 1))])
    tables: dict[str, list] = {k: [] for k in ("runs", "passes", "selections", "records", "sources",
                                               "record_experts")}
    for i, spec in enumerate(runs):
        run, *rest = _run_tables(spec, offsets, t0=600_000_000_000_000 + i * 10**12)
        tables["runs"].append(run)
        for key, rows in zip(("passes", "selections", "records", "sources", "record_experts"), rest,
                             strict=True):
            tables[key] += rows
    if with_anomaly:
        # the last run's first attention read names an offset that starts no tensor of the layout
        last = tables["runs"][-1]["run_id"]
        first = next(x for x in tables["sources"] if x["run_id"] == last and "attn_q" in x["name"])
        first["disk_offset"] = DATA_OFFSET + 12_345
    frames = {k: pd.DataFrame(v) for k, v in tables.items()}
    tags = {r["run_id"]: spec.source for r, spec in zip(tables["runs"], runs, strict=True)}
    anomalies = pd.DataFrame([dict(run_id=tables["runs"][-1]["run_id"], record_id=5,
                                   kind="duplicate_expert_ids", detail="expert 3 listed twice")]
                             if with_anomaly else [], columns=["run_id", "record_id", "kind", "detail"])
    with open_store(db_path) as store, store.transaction() as con:
        con.register("model_df", model)
        con.execute("insert into models by name select * from model_df")
        con.register("layout_df", layout)
        con.execute("insert into tensors by name select * from layout_df")
        for name, df in frames.items():
            con.register(f"{name}_df", df)
            con.execute(f"insert into {name} by name select * from {name}_df")
        for run_id, source in tags.items():
            con.execute("update runs set tags = map {'source': ?} where run_id = ?", [source, run_id])
        if len(anomalies):
            con.register("anomalies_df", anomalies)
            con.execute("insert into anomalies by name select * from anomalies_df")
        # what trace ingest derives from records and sources (pass_disk_reads)
        from warehouse.ingest.derived import refresh_run

        for run in tables["runs"]:
            refresh_run(con, run["run_id"])
