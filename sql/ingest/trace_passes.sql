-- Fill passes for one run ($run_id) from its records.
-- $k: experts used per token (NULL if unknown); $n_experts: experts per layer and $n_layers:
-- blocks of the model (NULL if unknown).
-- _trace_pass_id_bytes (pass_id, id_tensor_bytes, index_ids), registered by the ingest: the
-- largest ffn_moe_topk-N source size among the pass's MoE records, and the ids in the index
-- source of the GET_ROWS that starts the pass (its tokens), found while decoding.
--
-- ids_per_token is ne0 of the id tensor [ne0, n_tokens]: measured as id_tensor_bytes / (4 *
-- n_tokens) when that agrees with the ids the records carry (at most 16, the tracer's cap);
-- else the typical (mode) number of ids the pass's MoE records carry when below the cap, else
-- k (a 16-expert selection), the full expert count or, knowing neither, the 16 recorded.
-- A pass is a warm-up when its id tensor holds every expert's id per token (ne0 = n_experts,
-- whatever k is), or more ids than k, or, with neither known, more than the tracer can record.
-- A pass is complete when its MoE records reach the model's last block (n_layers - 1), or,
-- without a model, the last block any pass of the run reaches; a run without MoE records has
-- only complete passes. Only the last pass of a cut trace can fall short.
INSERT INTO passes (run_id, pass_id, token_id, phase, n_records, n_batch_tokens, ids_per_token,
                    is_warmup, t_start_ns, t_end_ns, first_record_id, last_record_id, is_complete)
WITH per_pass AS (
    SELECT
        pass_id,
        COUNT(*) AS n_records,
        ARG_MIN(token_id, record_id) AS token_id,
        ARG_MIN(phase, record_id) AS phase,
        MIN(timestamp_ns) AS t_start_ns,
        MAX(timestamp_ns) AS t_end_ns,
        MIN(record_id) AS first_record_id,
        MAX(record_id) AS last_record_id,
        MODE(LEAST(num_experts, 16)) FILTER (WHERE num_experts > 0) AS recorded_ids,
        MAX(COALESCE(layer_id, TRY_CAST(REGEXP_EXTRACT(dst_name, '-([0-9]+)$', 1) AS INTEGER)))
            FILTER (WHERE num_experts > 0 OR op_name = 'MUL_MAT_ID') AS moe_layer_reached
    FROM records
    WHERE run_id = $run_id
    GROUP BY pass_id
),
facts AS (
    SELECT pass_id, NULLIF(id_tensor_bytes, 0) AS topk_bytes, NULLIF(index_ids, 0) AS index_ids
    FROM _trace_pass_id_bytes
),
measured AS (
    SELECT
        p.*,
        f.topk_bytes,
        f.index_ids,
        CASE WHEN f.topk_bytes % (4 * f.index_ids) = 0
                  AND LEAST(f.topk_bytes // (4 * f.index_ids), 16) = p.recorded_ids
             THEN f.topk_bytes // (4 * f.index_ids) END AS ne0
    FROM per_pass AS p
    LEFT JOIN facts AS f ON f.pass_id = p.pass_id
),
shaped AS (
    SELECT
        *,
        CASE
            WHEN recorded_ids IS NULL THEN NULL
            WHEN ne0 IS NOT NULL THEN ne0
            WHEN recorded_ids < 16 THEN recorded_ids
            WHEN recorded_ids <= $k THEN $k
            ELSE COALESCE($n_experts, recorded_ids)
        END AS ids_per_token,
        COALESCE(CAST($n_layers AS INTEGER) - 1, MAX(moe_layer_reached) OVER ()) AS last_block
    FROM measured
)
SELECT
    $run_id,
    pass_id,
    token_id,
    phase,
    n_records,
    COALESCE(index_ids, CASE WHEN topk_bytes % (4 * ids_per_token) = 0 THEN topk_bytes // (4 * ids_per_token) END),
    ids_per_token,
    COALESCE(
        ids_per_token >= $n_experts AND COALESCE($k < $n_experts, TRUE)
        OR ids_per_token > $k
        OR recorded_ids > $k
        OR ($k IS NULL AND $n_experts IS NULL AND ids_per_token > 16),
        FALSE
    ) AS is_warmup,
    t_start_ns,
    t_end_ns,
    first_record_id,
    last_record_id,
    last_block IS NULL OR COALESCE(moe_layer_reached >= last_block, FALSE) AS is_complete
FROM shaped
ORDER BY pass_id
