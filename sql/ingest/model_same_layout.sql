-- Stored models whose layout rows are exactly the rows of _moewh_layout_rows (tensor_name,
-- offset_start, size_bytes), registered by the layout ingest: the same model read from
-- another file. A GGUF-ingested model comes first, then the oldest.
WITH new_rows AS (
    SELECT COUNT(*) AS n FROM _moewh_layout_rows
),
matching AS (
    SELECT t.model_id, COUNT(*) AS n
    FROM tensors AS t
    JOIN _moewh_layout_rows AS x
        ON x.tensor_name = t.tensor_name AND x.offset_start = t.offset_start AND x.size_bytes = t.size_bytes
    GROUP BY t.model_id
),
sizes AS (
    SELECT model_id, COUNT(*) AS n FROM tensors GROUP BY model_id
)
SELECT m.model_id, m.model_name
FROM matching AS x
JOIN sizes AS s ON s.model_id = x.model_id
JOIN models AS m ON m.model_id = x.model_id
CROSS JOIN new_rows AS nr
WHERE x.n = nr.n AND s.n = nr.n
ORDER BY m.source_kind <> 'gguf', m.ingested_at, m.model_id
