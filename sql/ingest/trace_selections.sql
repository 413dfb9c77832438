-- Fill selections for run $run_id: per non-warm-up pass and layer, the first $k ids of the
-- first record that carries ids (the gate MUL_MAT_ID; the up, down and ADD_ID records repeat
-- them, and disagreements are reported as anomalies). A record without a layer id takes the
-- layer from its output name's -N suffix.
INSERT INTO selections (run_id, pass_id, layer_id, rank, expert_id)
WITH moe AS (
    SELECT
        r.record_id,
        r.pass_id,
        COALESCE(r.layer_id, TRY_CAST(REGEXP_EXTRACT(r.dst_name, '-([0-9]+)$', 1) AS INTEGER)) AS layer_id
    FROM records AS r
    JOIN passes AS p ON p.run_id = r.run_id AND p.pass_id = r.pass_id
    WHERE r.run_id = $run_id AND r.num_experts > 0 AND NOT p.is_warmup
),
first_record AS (
    SELECT pass_id, layer_id, MIN(record_id) AS record_id
    FROM moe
    WHERE layer_id IS NOT NULL
    GROUP BY pass_id, layer_id
)
SELECT $run_id, f.pass_id, f.layer_id, e.slot, e.expert_id
FROM first_record AS f
JOIN record_experts AS e ON e.run_id = $run_id AND e.record_id = f.record_id
WHERE e.slot < $k
ORDER BY f.pass_id, f.layer_id, e.slot
