-- Runs of one model, optionally of one domain, that have decode steps: what `layout plan` scores by default.
SELECT r.run_id
FROM v1.runs AS r
WHERE r.model_id = $model_id
  AND ($domain IS NULL OR r.domain = $domain)
  AND EXISTS (SELECT 1 FROM v1.decode_steps AS d WHERE d.run_id = r.run_id)
ORDER BY r.run_id
