-- One row per run of data-section bytes that no layout row covers, beyond alignment padding.
--
-- GGUF pads every tensor to the model's alignment (general.alignment, default 32), so the
-- bytes between one tensor's end and the next aligned offset are padding, not a gap: a hole
-- counts only when it is at least one alignment long or does not end on an aligned offset
-- (offsets are aligned relative to the data section). The data section runs from data_offset
-- to the end of the file when the file size is known, else to the last row's end. Legacy
-- layouts without an alignment are taken as 32-byte aligned.
--
-- @grain model_id, gap_start
-- @column model_id   Model (v1.models.model_id).
-- @column gap_start  Absolute file offset of the first uncovered byte.
-- @column gap_end    Absolute file offset one past the last uncovered byte.
-- @column gap_bytes  gap_end - gap_start.
WITH bounds AS (
    SELECT model_id, offset_start, offset_end
    FROM tensors
    WHERE size_bytes > 0
    UNION ALL
    -- the end of the file closes the last gap
    SELECT model_id, file_size_bytes AS offset_start, file_size_bytes AS offset_end
    FROM models
    WHERE file_size_bytes IS NOT NULL
),
ordered AS (
    SELECT
        model_id,
        offset_start,
        MAX(offset_end) OVER (
            PARTITION BY model_id ORDER BY offset_start, offset_end
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS covered_until
    FROM bounds
),
candidates AS (
    SELECT
        o.model_id,
        COALESCE(o.covered_until, m.data_offset) AS gap_start,
        o.offset_start AS gap_end,
        m.data_offset,
        COALESCE(m.alignment, 32) AS alignment
    FROM ordered AS o
    JOIN models AS m ON m.model_id = o.model_id
)
SELECT
    model_id,
    gap_start,
    gap_end,
    gap_end - gap_start AS gap_bytes
FROM candidates
WHERE gap_end > gap_start
    AND NOT (gap_end - gap_start < alignment AND (gap_end - data_offset) % alignment = 0)
