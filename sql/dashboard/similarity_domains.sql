-- Compare: per-layer similarity between two domains, as the mean of v1.run_similarity over
-- every pair of one run from each domain; beside it the same mean within each domain, the
-- run-to-run variation a domain difference has to exceed.
WITH pairs AS (
    SELECT
        s.layer_id,
        s.js_divergence,
        s.cosine,
        CASE
            WHEN (ra.domain = $name_a AND rb.domain = $name_b) OR (ra.domain = $name_b AND rb.domain = $name_a)
                THEN 'between'
            WHEN ra.domain = $name_a AND rb.domain = $name_a THEN 'within_a'
            WHEN ra.domain = $name_b AND rb.domain = $name_b THEN 'within_b'
        END AS kind
    FROM v1.run_similarity AS s
    JOIN v1.runs AS ra ON ra.run_id = s.run_a
    JOIN v1.runs AS rb ON rb.run_id = s.run_b
    WHERE s.model_id = $model_id
)
SELECT
    layer_id,
    AVG(js_divergence) FILTER (WHERE kind = 'between') AS js_divergence,
    AVG(cosine) FILTER (WHERE kind = 'between') AS cosine,
    COUNT(*) FILTER (WHERE kind = 'between') AS n_pairs,
    AVG(js_divergence) FILTER (WHERE kind = 'within_a') AS js_within_a,
    AVG(js_divergence) FILTER (WHERE kind = 'within_b') AS js_within_b
FROM pairs
WHERE kind IS NOT NULL
GROUP BY layer_id
ORDER BY layer_id
