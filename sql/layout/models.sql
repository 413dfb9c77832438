-- Every ingested model as (model_id, model_name), in the order listings show them.
SELECT model_id, model_name FROM models ORDER BY model_name, model_id
