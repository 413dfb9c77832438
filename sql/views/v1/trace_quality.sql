-- One row per run: how trustworthy its trace is.
--
-- Counts what the ingest skipped, dropped or found odd. Anomalies are kept per record in the
-- anomalies table (kind, detail); this view counts them by kind. A DISK source names a model
-- weight by the GGUF offset of the whole tensor, so it matches the layout when that offset is
-- the first byte of some tensor (the smallest offset_start of its rows, expert slices
-- included); sources whose offset matches nothing point at a wrong or missing layout.
--
-- @grain run_id
-- @column run_id                  Run (v1.runs.run_id).
-- @column run_name                Run name.
-- @column model_id                Layout the run is read against; NULL if none.
-- @column n_records               Used records ingested.
-- @column n_passes                Graph evaluations.
-- @column warmup_passes           Passes recognised as warm-up (full expert ranking, no selections).
-- @column incomplete_passes       Passes the end of the trace cut short (not decode steps).
-- @column k_unknown               True when k (experts used per token) is unknown and passes that are not warm-ups carry expert ids: their selections were not made (give --experts-used K or the GGUF).
-- @column skipped_tail_bytes      Bytes of unused (all-zero) records after the last used one, not read when sparse.
-- @column dropped_partial_bytes   Bytes of a trailing partial record that was dropped (file cut short).
-- @column hole_records            Unused records before the last used one (the records after them were ingested).
-- @column anomalies               All anomalies of the run.
-- @column expert_id_out_of_range  Records with an expert id outside [0, n_experts).
-- @column duplicate_expert_ids    Records listing an expert id twice.
-- @column expert_ids_disagree     Records whose ids differ from the first record of their pass and layer.
-- @column too_many_sources        Records claiming more than 4 sources.
-- @column too_many_experts        Records claiming more than 16 expert ids.
-- @column unknown_op_code         Records whose op code the run's op table does not name.
-- @column implausible_op          Records failing the op-table check (ids or an _exps weight on the wrong op).
-- @column op_table_mismatch       1 when the run's op table fails the plausibility check as a whole.
-- @column unknown_memory_source   Records with a source neither DISK nor BUFFER.
-- @column unknown_phase           Records whose phase is neither PROMPT nor GENERATE.
-- @column timestamp_out_of_range  Records whose timestamp is above 2^63 - 1 (stored as 2^63 - 1).
-- @column timestamp_backwards     Records stamped earlier than the previous record of the same thread.
-- @column disk_sources            Source slots reading model weights (DISK).
-- @column unmatched_disk_sources  DISK sources whose offset is the start of no tensor of the layout; NULL without a layout.
-- @column unknown_disk_offsets    DISK sources with offset 0 (unknown).
WITH anomaly_counts AS (
    SELECT
        run_id,
        COUNT(*) AS anomalies,
        COUNT(CASE WHEN kind = 'expert_id_out_of_range' THEN 1 END) AS expert_id_out_of_range,
        COUNT(CASE WHEN kind = 'duplicate_expert_ids' THEN 1 END) AS duplicate_expert_ids,
        COUNT(CASE WHEN kind = 'expert_ids_disagree' THEN 1 END) AS expert_ids_disagree,
        COUNT(CASE WHEN kind = 'too_many_sources' THEN 1 END) AS too_many_sources,
        COUNT(CASE WHEN kind = 'too_many_experts' THEN 1 END) AS too_many_experts,
        COUNT(CASE WHEN kind = 'unknown_op_code' THEN 1 END) AS unknown_op_code,
        COUNT(CASE WHEN kind = 'implausible_op' THEN 1 END) AS implausible_op,
        COUNT(CASE WHEN kind = 'op_table_mismatch' THEN 1 END) AS op_table_mismatch,
        COUNT(CASE WHEN kind = 'unknown_memory_source' THEN 1 END) AS unknown_memory_source,
        COUNT(CASE WHEN kind = 'unknown_phase' THEN 1 END) AS unknown_phase,
        COUNT(CASE WHEN kind = 'timestamp_out_of_range' THEN 1 END) AS timestamp_out_of_range,
        COUNT(CASE WHEN kind = 'timestamp_backwards' THEN 1 END) AS timestamp_backwards
    FROM anomalies
    GROUP BY run_id
),
warmups AS (
    SELECT
        run_id,
        COUNT(CASE WHEN is_warmup THEN 1 END) AS warmup_passes,
        COUNT(CASE WHEN NOT is_complete THEN 1 END) AS incomplete_passes,
        COUNT(CASE WHEN NOT is_warmup AND ids_per_token IS NOT NULL THEN 1 END) AS moe_passes
    FROM passes
    GROUP BY run_id
),
tensor_starts AS (
    SELECT model_id, MIN(offset_start) AS offset_start
    FROM tensors
    GROUP BY model_id, base_name
),
disk AS (
    SELECT
        s.run_id,
        COUNT(*) AS disk_sources,
        COUNT(CASE WHEN s.disk_offset IS NOT NULL AND t.offset_start IS NULL THEN 1 END) AS unmatched,
        COUNT(CASE WHEN s.disk_offset IS NULL THEN 1 END) AS unknown_offsets
    FROM sources AS s
    JOIN runs AS r ON r.run_id = s.run_id
    LEFT JOIN tensor_starts AS t ON t.model_id = r.model_id AND t.offset_start = s.disk_offset
    WHERE s.memory_source = 'DISK'
    GROUP BY s.run_id
)
SELECT
    r.run_id,
    r.run_name,
    r.model_id,
    r.n_records,
    r.n_passes,
    COALESCE(w.warmup_passes, 0) AS warmup_passes,
    COALESCE(w.incomplete_passes, 0) AS incomplete_passes,
    r.experts_used IS NULL AND COALESCE(w.moe_passes, 0) > 0 AS k_unknown,
    r.skipped_tail_bytes,
    r.dropped_partial_bytes,
    r.hole_records,
    COALESCE(a.anomalies, 0) AS anomalies,
    COALESCE(a.expert_id_out_of_range, 0) AS expert_id_out_of_range,
    COALESCE(a.duplicate_expert_ids, 0) AS duplicate_expert_ids,
    COALESCE(a.expert_ids_disagree, 0) AS expert_ids_disagree,
    COALESCE(a.too_many_sources, 0) AS too_many_sources,
    COALESCE(a.too_many_experts, 0) AS too_many_experts,
    COALESCE(a.unknown_op_code, 0) AS unknown_op_code,
    COALESCE(a.implausible_op, 0) AS implausible_op,
    COALESCE(a.op_table_mismatch, 0) AS op_table_mismatch,
    COALESCE(a.unknown_memory_source, 0) AS unknown_memory_source,
    COALESCE(a.unknown_phase, 0) AS unknown_phase,
    COALESCE(a.timestamp_out_of_range, 0) AS timestamp_out_of_range,
    COALESCE(a.timestamp_backwards, 0) AS timestamp_backwards,
    COALESCE(d.disk_sources, 0) AS disk_sources,
    CASE WHEN r.model_id IS NULL THEN NULL ELSE COALESCE(d.unmatched, 0) END AS unmatched_disk_sources,
    COALESCE(d.unknown_offsets, 0) AS unknown_disk_offsets
FROM runs AS r
LEFT JOIN anomaly_counts AS a ON a.run_id = r.run_id
LEFT JOIN warmups AS w ON w.run_id = r.run_id
LEFT JOIN disk AS d ON d.run_id = r.run_id
