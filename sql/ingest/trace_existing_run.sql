-- The run a trace's records already make, if any (same run_id: same records).
SELECT run_name, n_records, n_passes FROM runs WHERE run_id = $run_id
