-- Decode steps of the given runs (v1.decode_steps), every step even one that touched nothing.
-- run_index: the run's place in $run_ids, which the planner passes sorted.
SELECT list_position($run_ids, run_id) - 1 AS run_index, step
FROM v1.decode_steps
WHERE list_contains($run_ids, run_id)
ORDER BY run_index, step
