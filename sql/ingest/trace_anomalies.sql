-- Fill the per-record anomalies of run $run_id ($n_experts: experts per layer, NULL if unknown).
-- Kinds: expert_id_out_of_range, duplicate_expert_ids, expert_ids_disagree, too_many_sources,
-- too_many_experts, unknown_op_code, implausible_op, unknown_memory_source, unknown_phase.
INSERT INTO anomalies (run_id, record_id, kind, detail)
WITH ids AS (
    SELECT
        e.record_id,
        r.pass_id,
        COALESCE(r.layer_id, TRY_CAST(REGEXP_EXTRACT(r.dst_name, '-([0-9]+)$', 1) AS INTEGER)) AS layer_id,
        STRING_AGG(CAST(e.expert_id AS VARCHAR), ',' ORDER BY e.slot) AS id_list
    FROM record_experts AS e
    JOIN records AS r ON r.run_id = e.run_id AND r.record_id = e.record_id
    WHERE e.run_id = $run_id
    GROUP BY e.record_id, r.pass_id, r.layer_id, r.dst_name
),
reference AS (
    SELECT pass_id, layer_id, ARG_MIN(id_list, record_id) AS id_list, MIN(record_id) AS record_id
    FROM ids
    GROUP BY pass_id, layer_id
)
SELECT $run_id, record_id, 'expert_id_out_of_range',
       'expert ids ' || STRING_AGG(CAST(expert_id AS VARCHAR), ',' ORDER BY slot) || ' outside [0, '
       || COALESCE(CAST($n_experts AS VARCHAR), '?') || ')'
FROM record_experts
WHERE run_id = $run_id AND (expert_id < 0 OR expert_id >= COALESCE($n_experts, 2147483647))
GROUP BY record_id
UNION ALL
SELECT $run_id, record_id, 'duplicate_expert_ids',
       'expert ids repeated: ' || STRING_AGG(CAST(expert_id AS VARCHAR), ',' ORDER BY expert_id)
FROM (
    SELECT record_id, expert_id
    FROM record_experts
    WHERE run_id = $run_id
    GROUP BY record_id, expert_id
    HAVING COUNT(*) > 1
) AS d
GROUP BY record_id
UNION ALL
SELECT $run_id, i.record_id, 'expert_ids_disagree',
       'ids ' || i.id_list || ' differ from ' || ref.id_list || ' of record ' || CAST(ref.record_id AS VARCHAR)
       || ' (same pass and layer)'
FROM ids AS i
JOIN reference AS ref ON ref.pass_id = i.pass_id AND ref.layer_id IS NOT DISTINCT FROM i.layer_id
WHERE i.id_list <> ref.id_list
UNION ALL
SELECT $run_id, record_id, 'too_many_sources', 'num_sources ' || CAST(num_sources AS VARCHAR) || ' > 4'
FROM records
WHERE run_id = $run_id AND num_sources > 4
UNION ALL
SELECT $run_id, record_id, 'too_many_experts', 'num_experts ' || CAST(num_experts AS VARCHAR) || ' > 16'
FROM records
WHERE run_id = $run_id AND num_experts > 16
UNION ALL
SELECT $run_id, record_id, 'unknown_op_code', 'op code ' || CAST(op_code AS VARCHAR) || ' not in ' || $op_table
FROM records
WHERE run_id = $run_id AND op_name IS NULL
UNION ALL
SELECT $run_id, record_id, 'implausible_op',
       COALESCE(op_name, 'op code ' || CAST(op_code AS VARCHAR)) || ' carries expert ids'
FROM records
WHERE run_id = $run_id AND num_experts > 0 AND COALESCE(op_name, '') NOT IN ('MUL_MAT_ID', 'ADD_ID')
UNION ALL
SELECT $run_id, s.record_id, 'implausible_op',
       COALESCE(MIN(r.op_name), 'op code ' || CAST(MIN(r.op_code) AS VARCHAR)) || ' reads ' || MIN(s.name)
FROM sources AS s
JOIN records AS r ON r.run_id = s.run_id AND r.record_id = s.record_id
WHERE s.run_id = $run_id AND s.name LIKE '%\_exps.weight' ESCAPE '\'
  AND COALESCE(r.op_name, '') <> 'MUL_MAT_ID' AND r.num_experts = 0
GROUP BY s.record_id
UNION ALL
SELECT $run_id, record_id, 'unknown_memory_source', 'source slot ' || CAST(MIN(slot) AS VARCHAR)
FROM sources
WHERE run_id = $run_id AND memory_source = 'UNKNOWN'
GROUP BY record_id
UNION ALL
SELECT $run_id, record_id, 'unknown_phase', 'phase is neither PROMPT nor GENERATE'
FROM records
WHERE run_id = $run_id AND phase = 'UNKNOWN'
