-- One row per model, fixed-size byte bucket of its file and tensor category present in the bucket.
--
-- The file is cut into buckets of settings.file_region_bucket_bytes (default 64 MiB);
-- bucket b covers offsets [b * size, (b + 1) * size). bytes is how much of the bucket the
-- category's layout rows occupy (a row spanning buckets is split between them; bytes outside
-- any layout row, such as the header, are in no row). mean_touched_bytes_per_step is the
-- mean over all decode steps of the model's runs of the bucket's bytes of that category that
-- a step read (v1.tensor_touches.touched_bytes; a row of which a step reads only part, the
-- token embedding's gathered rows, is counted as read evenly over its bytes, since which rows
-- is not recorded); NULL when the model has no decode steps. Input for a file-offset heatmap:
-- which parts of the file a token reads.
--
-- @grain model_id, bucket, category
-- @column model_id                     Model (v1.models.model_id).
-- @column bucket                       Bucket index: offset // bucket_bytes.
-- @column bucket_start                 First file offset of the bucket.
-- @column bucket_end                   One past the bucket's last offset.
-- @column category                     Tensor category (expert, attention, embedding, ...).
-- @column bytes                        Bytes of the bucket in layout rows of this category.
-- @column mean_touched_bytes_per_step  Mean bytes of those touched per decode step.
-- @column touched_fraction             mean_touched_bytes_per_step / bytes.
WITH cfg AS (
    SELECT CAST(value AS BIGINT) AS bucket_bytes
    FROM settings
    WHERE key = 'file_region_bucket_bytes'
),
rows_in_buckets AS (
    SELECT
        t.model_id,
        t.category,
        t.touched_bytes,
        t.size_bytes,
        t.n_steps,
        b.bucket,
        c.bucket_bytes,
        LEAST(t.offset_end, (b.bucket + 1) * c.bucket_bytes)
            - GREATEST(t.offset_start, b.bucket * c.bucket_bytes) AS overlap
    FROM v1.tensor_touches AS t
    CROSS JOIN cfg AS c
    CROSS JOIN UNNEST(
        GENERATE_SERIES(t.offset_start // c.bucket_bytes, (t.offset_end - 1) // c.bucket_bytes)
    ) AS b(bucket)
    WHERE t.offset_end > t.offset_start
)
SELECT
    model_id,
    bucket,
    bucket * MAX(bucket_bytes) AS bucket_start,
    (bucket + 1) * MAX(bucket_bytes) AS bucket_end,
    category,
    CAST(SUM(overlap) AS BIGINT) AS bytes,
    SUM(CAST(overlap AS DOUBLE) * touched_bytes / size_bytes) / NULLIF(MAX(n_steps), 0)
        AS mean_touched_bytes_per_step,
    SUM(CAST(overlap AS DOUBLE) * touched_bytes / size_bytes) / NULLIF(MAX(n_steps), 0) / SUM(overlap)
        AS touched_fraction
FROM rows_in_buckets
GROUP BY model_id, bucket, category
