-- File map: every layout row of a model with how many decode steps of the chosen runs touched
-- it, placed in file order and in layer order. With $group > 1, expert slices are merged in
-- runs of $group consecutive experts of one tensor (a model with many experts stays drawable);
-- touches is then the mean over the merged slices and touches_total their sum. With $step set
-- (one run in $run_ids) only that decode step counts; NULL counts every step.
-- bytes_read: bytes of the row read over those steps (a gathered tensor, the token embedding,
-- only the rows its GET_ROWS read: v1.pass_tensor_reads.read_bytes).
--
-- Touches: expert slices from v1.expert_slice_accesses (a step touches the slices of the
-- experts it selected), other tensors from v1.pass_tensor_reads (a step read it from DISK).
WITH touches AS (
    SELECT tensor_name, COUNT(*) AS touches, SUM(size_bytes) AS bytes_read
    FROM v1.expert_slice_accesses
    WHERE run_id IN (SELECT unnest($run_ids)) AND ($step IS NULL OR step = $step)
    GROUP BY tensor_name
    UNION ALL
    SELECT tensor_name, COUNT(*) AS touches, SUM(read_bytes) AS bytes_read
    FROM v1.pass_tensor_reads
    WHERE run_id IN (SELECT unnest($run_ids)) AND model_id = $model_id AND ($step IS NULL OR step = $step)
    GROUP BY tensor_name
),
per_row AS (
    SELECT t.tensor_name, t.base_name, t.layer_id, t.expert_id, t.component, t.category, t.ggml_type,
           t.offset_start, t.offset_end, t.size_bytes, COALESCE(SUM(x.touches), 0) AS touches,
           COALESCE(SUM(x.bytes_read), 0) AS bytes_read
    FROM v1.tensors AS t
    LEFT JOIN touches AS x ON x.tensor_name = t.tensor_name
    WHERE t.model_id = $model_id
    GROUP BY ALL
),
chunked AS (
    SELECT
        *,
        CASE WHEN expert_id IS NULL OR $group <= 1 THEN tensor_name
             ELSE base_name || '[' || CAST(expert_id // $group * $group AS VARCHAR) || '-'
                  || CAST(expert_id // $group * $group + $group - 1 AS VARCHAR) || ']'
        END AS name
    FROM per_row
),
shown AS (
    SELECT
        name,
        MIN(base_name) AS base_name,
        MIN(layer_id) AS layer_id,
        MIN(expert_id) AS expert_id,
        MAX(expert_id) AS expert_last,
        MIN(component) AS component,
        MIN(category) AS category,
        MIN(ggml_type) AS ggml_type,
        MIN(offset_start) AS offset_start,
        MAX(offset_end) AS offset_end,
        CAST(SUM(size_bytes) AS BIGINT) AS size_bytes,
        COUNT(*) AS n_rows,
        CAST(SUM(CASE WHEN touches > 0 THEN 1 ELSE 0 END) AS BIGINT) AS rows_touched,
        CAST(SUM(CASE WHEN touches > 0 THEN size_bytes ELSE 0 END) AS BIGINT) AS bytes_touched,
        AVG(touches) AS touches,
        CAST(SUM(bytes_read) AS BIGINT) AS bytes_read,
        CAST(SUM(touches) AS BIGINT) AS touches_total
    FROM chunked
    GROUP BY name
)
SELECT
    *,
    -- layer order: token embedding, then blocks 0..n-1 (component, expert), then the rest
    SUM(size_bytes) OVER (
        ORDER BY COALESCE(layer_id, CASE WHEN category = 'embedding' THEN -1 ELSE 1000000 END),
                 component, expert_id NULLS FIRST, name
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    ) - size_bytes AS layer_order_start
FROM shown
ORDER BY offset_start, name
