-- A run-level anomaly: the op table the run names fails the plausibility check.
INSERT INTO anomalies VALUES ($run_id, NULL, 'op_table_mismatch', $message)
