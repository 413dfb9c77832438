-- One row per model for `moewh check layout`: how many layout rows, overlaps and gaps it has.
-- $model_id: the model to check. Each view is aggregated once.
WITH overlap_totals AS (
    SELECT COUNT(*) AS n_overlaps, COALESCE(SUM(overlap_bytes), 0) AS overlap_bytes
    FROM v1.layout_overlaps
    WHERE model_id = $model_id
),
gap_totals AS (
    SELECT COUNT(*) AS n_gaps, COALESCE(SUM(gap_bytes), 0) AS gap_bytes
    FROM v1.layout_gaps
    WHERE model_id = $model_id
)
SELECT m.model_name, m.n_layout_rows, o.n_overlaps, o.overlap_bytes, g.n_gaps, g.gap_bytes
FROM v1.models AS m
CROSS JOIN overlap_totals AS o
CROSS JOIN gap_totals AS g
WHERE m.model_id = $model_id
