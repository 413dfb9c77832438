-- The first $limit overlaps of one model, in file order, for `moewh check layout`.
SELECT tensor_a, tensor_b, overlap_start, overlap_bytes
FROM v1.layout_overlaps
WHERE model_id = $model_id
ORDER BY overlap_start, tensor_a, tensor_b
LIMIT $limit
