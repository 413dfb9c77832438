-- The first $limit gaps of one model, in file order, for `moewh check layout`.
SELECT gap_start, gap_end, gap_bytes
FROM v1.layout_gaps
WHERE model_id = $model_id
ORDER BY gap_start
LIMIT $limit
