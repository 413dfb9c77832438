-- One row per model for `moewh check layout`: how many layout rows, overlaps and gaps it has.
-- $model_id: the model to check.
SELECT
    m.model_name,
    m.n_layout_rows,
    (SELECT count(*) FROM v1.layout_overlaps AS o WHERE o.model_id = m.model_id) AS n_overlaps,
    (SELECT coalesce(sum(o.overlap_bytes), 0) FROM v1.layout_overlaps AS o WHERE o.model_id = m.model_id) AS overlap_bytes,
    (SELECT count(*) FROM v1.layout_gaps AS g WHERE g.model_id = m.model_id) AS n_gaps,
    (SELECT coalesce(sum(g.gap_bytes), 0) FROM v1.layout_gaps AS g WHERE g.model_id = m.model_id) AS gap_bytes
FROM v1.models AS m
WHERE m.model_id = $model_id
