-- Passes of run $run_id that stop before the last block (the trace was cut inside them).
SELECT pass_id, first_record_id, last_record_id
FROM passes
WHERE run_id = $run_id AND NOT is_complete
ORDER BY pass_id
