-- Layout check: data-section bytes of one model that no layout row covers.
SELECT gap_start, gap_end, gap_bytes
FROM v1.layout_gaps
WHERE model_id = $model_id
ORDER BY gap_start
