-- One row per ingested trace run.
--
-- run_id derives from the content of the records used, so ingesting the same trace twice
-- yields one run. Synthetic demo runs carry the tag source=synthetic, measured ones source=real.
--
-- @grain run_id
-- @column run_id          Content-derived run identifier.
-- @column run_name        Name given at ingest, else derived from the path.
-- @column experiment      Experiment name (from --experiment or prompts.json).
-- @column domain          Prompt domain, e.g. code or math.
-- @column prompt          Prompt text where known.
-- @column n_predict       Tokens the run was asked to generate, where known.
-- @column model_id        Model whose layout the run is read against; NULL if none.
-- @column source_path     Path the trace was read from.
-- @column source_format   trace-1024, trace-256 or token-json; for a routing-only run (moewh ingest routing)
--                         its routing format, e.g. route-trace-v1 or vllm-routed-experts.
-- @column op_table        ggml op-code table used to name operations; none for a routing-only run.
-- @column n_records       Trace records ingested (used records only).
-- @column n_passes        Graph evaluations in the run.
-- @column experts_used    k, the experts selected per token used to read selections.
-- @column experts_used_source  Where k came from: model, option or inferred; for routing-only runs also
--                         recorder (the recorder states it) or observed (largest rank seen + 1).
-- @column tags            User tags (MAP of key to value), e.g. source=real.
-- @column ingested_at     When the run was ingested.
-- @column file_size_bytes Size of the trace file(s) read.
SELECT
    run_id,
    run_name,
    experiment,
    domain,
    prompt,
    n_predict,
    model_id,
    source_path,
    source_format,
    op_table,
    n_records,
    n_passes,
    experts_used,
    experts_used_source,
    tags,
    ingested_at,
    file_size_bytes
FROM runs
