-- One row per simulation, run and prefetch predictor: how well it guesses a layer's experts
-- before the router runs.
--
-- Written by `moewh simulate --predictors`. prev-token predicts the experts the layer chose at
-- the previous step; static the layer's k most activated experts in training; transition the
-- k experts of the layer most often chosen, in training, together with the experts the layer
-- before chose at this step; oracle the truth. Only experts with a positive count or score are
-- predicted (ties to the lower expert id). A decode step and layer is scored when the layer
-- selected experts and the predictor predicted some.
--
-- @grain sim_id, run_id, predictor
--
-- @column sim_id                 Simulation (digest of the training set).
-- @column run_id                 Run (v1.runs.run_id).
-- @column predictor              prev-token, static, transition or oracle.
-- @column train                  Training set: self, domain:D, or the training runs' names.
-- @column in_sample              static, transition: the training runs include this run; NULL for
--                                the others.
-- @column n_steps                Decode steps of the run.
-- @column n_predictions          Steps and layers scored.
-- @column recall                 Mean of |predicted and selected| / |selected| over them.
-- @column precision              Mean of |predicted and selected| / |predicted| over them.
-- @column wasted_bytes_per_step  Bytes of predicted experts that were not selected, per decode step;
--                                NULL when the run has no model.
SELECT
    p.sim_id,
    p.run_id,
    p.predictor,
    s.train,
    p.in_sample,
    p.n_steps,
    p.n_predictions,
    p.recall,
    p."precision",
    CAST(p.wasted_bytes AS DOUBLE) / NULLIF(p.n_steps, 0) AS wasted_bytes_per_step
FROM predictor_sim_results AS p
JOIN simulations AS s ON s.sim_id = p.sim_id
