-- Anomalies across records of run $run_id (those a record shows on its own are found while
-- decoding): expert_ids_disagree, a MoE record whose ids differ from those of the first
-- record carrying ids in the same pass and layer (the one selections are taken from).
INSERT INTO anomalies (run_id, record_id, kind, detail)
WITH moe AS (
    SELECT
        record_id,
        pass_id,
        CASE
            WHEN layer_id IS NULL THEN TRY_CAST(REGEXP_EXTRACT(dst_name, '-([0-9]+)$', 1) AS INTEGER)
            ELSE layer_id
        END AS layer_id
    FROM records
    WHERE run_id = $run_id AND num_experts > 0
),
ids AS (
    SELECT m.record_id, m.pass_id, m.layer_id, LIST(e.expert_id ORDER BY e.slot) AS id_list
    FROM moe AS m
    JOIN record_experts AS e ON e.run_id = $run_id AND e.record_id = m.record_id
    GROUP BY m.record_id, m.pass_id, m.layer_id
),
reference AS (
    SELECT pass_id, layer_id, ARG_MIN(id_list, record_id) AS id_list, MIN(record_id) AS record_id
    FROM ids
    GROUP BY pass_id, layer_id
)
SELECT
    $run_id,
    i.record_id,
    'expert_ids_disagree',
    'ids ' || ARRAY_TO_STRING(i.id_list, ',') || ' differ from ' || ARRAY_TO_STRING(ref.id_list, ',')
    || ' of record ' || CAST(ref.record_id AS VARCHAR) || ' (same pass and layer)'
FROM ids AS i
JOIN reference AS ref ON ref.pass_id = i.pass_id AND ref.layer_id IS NOT DISTINCT FROM i.layer_id
WHERE i.id_list <> ref.id_list
