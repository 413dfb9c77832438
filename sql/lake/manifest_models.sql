-- The exported models (registered as _lake_models) as the manifest lists them.
SELECT model_id, model_name FROM models WHERE model_id IN (SELECT model_id FROM _lake_models)
