-- Map run $run_id's selections to original expert ids when its model $model_id is a repacked file
-- whose metadata records moewh.expert_permutation.N (position j of block N holds original
-- expert ids[j]; see warehouse/formats/expert_permutation.py). Ids past the list stay as
-- recorded (they are anomalies already); record_experts keeps the ids as the tracer wrote them.
UPDATE selections AS s
SET expert_id = p.original
FROM (
    SELECT layer_id, CAST(position AS INTEGER) AS position, CAST(ids[position + 1] AS INTEGER) AS original
    FROM (
        SELECT
            CAST(substr(key, length('moewh.expert_permutation.') + 1) AS INTEGER) AS layer_id,
            string_split(value, ',') AS ids,
            unnest(range(len(string_split(value, ',')))) AS position
        FROM model_metadata
        WHERE model_id = $model_id AND key LIKE 'moewh.expert\_permutation.%' ESCAPE '\'
    )
) AS p
WHERE s.run_id = $run_id AND s.layer_id = p.layer_id AND s.expert_id = p.position
