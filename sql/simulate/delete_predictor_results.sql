-- Remove the predictor rows of simulation $sim_id for runs $run_ids (they are simulated again).
DELETE FROM predictor_sim_results
WHERE sim_id = $sim_id AND list_contains($run_ids, run_id)
