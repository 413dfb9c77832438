-- One row per pair of layout rows of one model whose byte ranges intersect.
--
-- A correct split layout has none. Old gguf-dump CSVs that wrote offsets relative to the data
-- section, or sizes that ignored quantization, overlap, and `moewh check layout` exits 1 on
-- them. tensor_a is the row that starts first (ties broken by name). Empty rows never overlap.
--
-- The pairs are found from the rows sorted by offset: a row can only overlap an earlier one if
-- it starts before the furthest end seen so far, so only those rows are joined back, and a
-- clean layout costs one sort instead of a self join of every pair.
--
-- @grain model_id, tensor_a, tensor_b
-- @column model_id       Model (v1.models.model_id).
-- @column tensor_a       Layout row (tensor or NAME[e] slice) that starts first.
-- @column tensor_b       Layout row that starts inside tensor_a.
-- @column overlap_bytes  Bytes both rows claim.
-- @column overlap_start  Absolute file offset where the shared bytes begin.
WITH ordered AS (
    SELECT
        model_id,
        tensor_name,
        offset_start,
        offset_end,
        ROW_NUMBER() OVER (PARTITION BY model_id ORDER BY offset_start, tensor_name) AS pos,
        MAX(offset_end) OVER (
            PARTITION BY model_id ORDER BY offset_start, tensor_name
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS reach_before
    FROM tensors
    WHERE size_bytes > 0
),
late AS (
    SELECT model_id, tensor_name, offset_start, offset_end, pos
    FROM ordered
    WHERE offset_start < reach_before
)
SELECT
    a.model_id,
    a.tensor_name AS tensor_a,
    b.tensor_name AS tensor_b,
    LEAST(a.offset_end, b.offset_end) - b.offset_start AS overlap_bytes,
    b.offset_start AS overlap_start
FROM late AS b
JOIN ordered AS a
    ON a.model_id = b.model_id
    AND a.pos < b.pos
    AND a.offset_end > b.offset_start
