-- Decode steps of the given runs (v1.decode_steps), every step even one that touched nothing.
SELECT run_id, step
FROM v1.decode_steps
WHERE list_contains($run_ids, run_id)
ORDER BY run_id, step
