-- One row per layout plan, scored run and candidate order: what that order of the model's bytes costs the run.
--
-- `moewh layout plan` replays every decode step of the run (the rows v1.pass_bytes counts:
-- dense tensors read and the selected experts' slices) against each candidate order of the
-- model's layout rows and counts per step the read extents (maximal runs of touched rows,
-- two merged when at most merge_gap_bytes apart), the pages (page_bytes) and readahead
-- windows (readahead_bytes) the touched rows overlap. Orders: file (today's), layer,
-- expert-major, hot-first and coact (experts permuted inside each layer; learned from the
-- plan's training runs, see warehouse/layout/plan.py). Bytes per step are the same in every
-- order and equal v1.pass_bytes.total_bytes; the token embedding's gathered rows (which rows
-- is not recorded) are placed as one piece of the bytes read at the tensor's start. in_sample is true when a trained order is scored on a run it was trained on.
-- Per-step figures are in v1.layout_plan_steps, row offsets per order in v1.layout_plan_offsets.
-- @grain plan_id, run_id, order_name
--
-- @column plan_id                          Plan (digest of model, runs, orders and parameters).
-- @column model_id                         Model (v1.models.model_id).
-- @column run_id                           Scored run (v1.runs.run_id).
-- @column order_name                       file, layer, expert-major, hot-first or coact.
-- @column in_sample                        A trained order scored on one of its training runs.
-- @column n_steps                          Decode steps of the run replayed.
-- @column mean_bytes_per_step              Mean bytes touched per step (v1.run_bytes.mean_step_bytes).
-- @column mean_extents_per_step            Mean read extents per step.
-- @column p50_extents_per_step             Median read extents per step.
-- @column p95_extents_per_step             95th percentile of read extents per step.
-- @column mean_pages_per_step              Mean distinct pages touched per step.
-- @column p50_pages_per_step               Median pages per step.
-- @column p95_pages_per_step               95th percentile of pages per step.
-- @column mean_readahead_windows_per_step  Mean distinct readahead windows touched per step.
-- @column p95_readahead_windows_per_step   95th percentile of readahead windows per step.
-- @column distinct_bytes                   Bytes of the distinct rows the run touched.
-- @column page_bytes                       Page size of the plan.
-- @column readahead_bytes                  Readahead window of the plan.
-- @column merge_gap_bytes                  Largest gap merged into one extent.
-- @column created_at                       When the plan was computed.
SELECT
    r.plan_id,
    p.model_id,
    r.run_id,
    r.order_name,
    r.in_sample,
    r.n_steps,
    r.mean_bytes_per_step,
    r.mean_extents_per_step,
    r.p50_extents_per_step,
    r.p95_extents_per_step,
    r.mean_pages_per_step,
    r.p50_pages_per_step,
    r.p95_pages_per_step,
    r.mean_readahead_windows_per_step,
    r.p95_readahead_windows_per_step,
    r.distinct_bytes,
    p.page_bytes,
    p.readahead_bytes,
    p.merge_gap_bytes,
    p.created_at
FROM layout_plan_results AS r
JOIN layout_plans AS p ON p.plan_id = r.plan_id
