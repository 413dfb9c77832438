-- Fill passes for one run ($run_id) from its records.
-- $k: experts used per token (NULL if unknown); $n_experts: experts per layer (NULL if unknown).
-- _trace_pass_id_bytes (pass_id, id_tensor_bytes), registered by the ingest: the largest
-- ffn_moe_topk-N source size among the pass's MoE records, found while decoding.
-- ids_per_token is ne0 of the id tensor: the typical (mode) number of ids the pass's MoE
-- records carry when below the 16-id cap, else k (a 16-expert selection) or, in a warm-up,
-- the full expert count. A pass is a warm-up when its records carry more ids than k.
INSERT INTO passes (run_id, pass_id, token_id, phase, n_records, n_batch_tokens, ids_per_token,
                    is_warmup, t_start_ns, t_end_ns, first_record_id, last_record_id)
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
        MODE(LEAST(num_experts, 16)) FILTER (WHERE num_experts > 0) AS recorded_ids
    FROM records
    WHERE run_id = $run_id
    GROUP BY pass_id
),
topk AS (
    SELECT pass_id, id_tensor_bytes AS topk_bytes
    FROM _trace_pass_id_bytes
    WHERE id_tensor_bytes > 0
),
shaped AS (
    SELECT
        p.*,
        t.topk_bytes,
        COALESCE(p.recorded_ids > $k, FALSE) AS is_warmup,
        CASE
            WHEN p.recorded_ids IS NULL THEN NULL
            WHEN p.recorded_ids < 16 THEN p.recorded_ids
            WHEN p.recorded_ids <= $k THEN $k
            ELSE $n_experts
        END AS ids_per_token
    FROM per_pass AS p
    LEFT JOIN topk AS t ON t.pass_id = p.pass_id
)
SELECT
    $run_id,
    pass_id,
    token_id,
    phase,
    n_records,
    CASE WHEN topk_bytes % (4 * ids_per_token) = 0 THEN topk_bytes // (4 * ids_per_token) END,
    ids_per_token,
    is_warmup,
    t_start_ns,
    t_end_ns,
    first_record_id,
    last_record_id
FROM shaped
ORDER BY pass_id
