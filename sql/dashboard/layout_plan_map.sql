-- Layout plans page: the model file drawn in order $order_name of plan $plan_id, each layout row at
-- its offset in that order with the decode steps of runs $run_ids that touched it (expert slices
-- from v1.expert_slice_accesses, other tensors from v1.pass_tensor_reads, as the file map page).
-- With $group > 1, runs of $group neighbouring slices of one tensor (in the order) are merged.
WITH touches AS (
    SELECT tensor_name, COUNT(*) AS touches
    FROM v1.expert_slice_accesses
    WHERE run_id IN (SELECT unnest($run_ids))
    GROUP BY tensor_name
    UNION ALL
    SELECT tensor_name, COUNT(*) AS touches
    FROM v1.pass_tensor_reads
    WHERE run_id IN (SELECT unnest($run_ids))
    GROUP BY tensor_name
),
touched AS (
    SELECT tensor_name, SUM(touches) AS touches
    FROM touches
    GROUP BY tensor_name
),
per_row AS (
    SELECT o.tensor_name, t.base_name, o.layer_id, o.expert_id, o.category, o.offset_start, o.offset_end,
           o.size_bytes, o.file_offset, COALESCE(x.touches, 0) AS touches,
           ROW_NUMBER() OVER (PARTITION BY t.base_name ORDER BY o.offset_start) - 1 AS position
    FROM v1.layout_plan_offsets AS o
    JOIN v1.tensors AS t ON t.model_id = o.model_id AND t.tensor_name = o.tensor_name
    LEFT JOIN touched AS x ON x.tensor_name = o.tensor_name
    WHERE o.plan_id = $plan_id AND o.order_name = $order_name
)
SELECT
    CASE WHEN expert_id IS NULL OR $group <= 1 THEN tensor_name
         ELSE base_name || '[positions ' || CAST(position // $group * $group AS VARCHAR) || '-'
              || CAST(position // $group * $group + $group - 1 AS VARCHAR) || ']'
    END AS name,
    MIN(base_name) AS base_name,
    MIN(layer_id) AS layer_id,
    MIN(expert_id) AS expert_id,
    MIN(category) AS category,
    MIN(offset_start) AS offset_start,
    MAX(offset_end) AS offset_end,
    CAST(SUM(size_bytes) AS BIGINT) AS size_bytes,
    MIN(file_offset) AS file_offset,
    AVG(touches) AS touches,
    COUNT(*) AS n_rows
FROM per_row
GROUP BY 1
ORDER BY offset_start, name
