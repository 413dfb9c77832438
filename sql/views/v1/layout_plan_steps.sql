-- One row per layout plan, scored run, candidate order and decode step: that step's reads under the order.
--
-- The per-step figures behind v1.layout_plans: bytes touched (the same in every order),
-- read extents, pages and readahead windows, as defined there.
-- @grain plan_id, run_id, order_name, step
--
-- @column plan_id            Plan (v1.layout_plans.plan_id).
-- @column run_id             Run (v1.runs.run_id).
-- @column order_name         file, layer, expert-major, hot-first or coact.
-- @column step               Decode step (v1.decode_steps.step).
-- @column bytes              Bytes the step touched.
-- @column extents            Read extents of the step.
-- @column pages              Distinct pages the step touched.
-- @column readahead_windows  Distinct readahead windows the step touched.
SELECT plan_id, run_id, order_name, step, bytes, extents, pages, readahead_windows
FROM layout_plan_steps
