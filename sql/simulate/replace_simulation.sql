-- Record (or refresh) a simulation's definition.
INSERT OR REPLACE INTO simulations (sim_id, kind, scope, capacity_unit, train, train_run_ids, simulated_at)
VALUES ($sim_id, $kind, $scope, $capacity_unit, $train, $train_run_ids, now())
