-- Which regions of a model file a token reads: per byte bucket, the bytes touched per decode step.
--
-- v1.file_regions summed over tensor categories. Bucket size is the setting
-- file_region_bucket_bytes (default 64 MiB; change it with
-- `moewh settings set file_region_bucket_bytes 16777216`). touched_fraction near 0 marks
-- cold regions that need not stay in memory.
--
-- Usage: moewh query --file sql/queries/file_regions_per_token.sql -p model=gpt-oss-20b
--
-- @param model  model-a  Model name (v1.models.model_name).
SELECT
    f.bucket,
    f.bucket_start // 1048576 AS start_mib,
    SUM(f.bytes) AS bytes,
    ROUND(SUM(f.mean_touched_bytes_per_step)) AS mean_touched_bytes_per_step,
    ROUND(SUM(f.mean_touched_bytes_per_step) / SUM(f.bytes), 4) AS touched_fraction,
    STRING_AGG(f.category, ',' ORDER BY f.category) AS categories
FROM v1.file_regions AS f
JOIN v1.models AS m ON m.model_id = f.model_id
WHERE m.model_name = $model
GROUP BY f.bucket, f.bucket_start
ORDER BY f.bucket
