-- A model with this fingerprint already in the warehouse: its name and layout rows.
SELECT m.model_name, (SELECT COUNT(*) FROM tensors AS t WHERE t.model_id = m.model_id) AS n_rows
FROM models AS m
WHERE m.model_id = $model_id
