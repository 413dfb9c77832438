-- Layout check: layout rows of one model summed by ggml type and category.
SELECT
    COALESCE(ggml_type, '(unknown)') AS ggml_type,
    category,
    COUNT(*) AS n_rows,
    COUNT(DISTINCT base_name) AS n_tensors,
    CAST(SUM(size_bytes) AS BIGINT) AS size_bytes
FROM v1.tensors
WHERE model_id = $model_id
GROUP BY ALL
ORDER BY size_bytes DESC, ggml_type, category
