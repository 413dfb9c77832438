-- Removes every row of one run ($run_id) from one table.
DELETE FROM {{table}} WHERE run_id = $run_id
