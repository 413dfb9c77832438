-- Dense tensors each decode step of the given runs read (v1.pass_tensor_reads: once per pass,
-- so once per step), with the bytes read (the token embedding's GET_ROWS reads only the rows
-- it gathers). run_index: the run's place in $run_ids, which the planner passes sorted.
-- Not grouped again: a row listed twice at a step would count once, at the larger amount read
-- (warehouse.layout.plan.build_steps), which keeps the 10^6-row read cheap.
SELECT list_position($run_ids, run_id) - 1 AS run_index, step, tensor_name, read_bytes
FROM v1.pass_tensor_reads
WHERE list_contains($run_ids, run_id)
