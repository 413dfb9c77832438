-- Every run as (run_id, run_name), for finding the run a user names.
SELECT run_id, run_name FROM runs ORDER BY run_id
