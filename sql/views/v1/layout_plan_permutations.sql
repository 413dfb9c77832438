-- One row per layout plan, trained order, layer and expert position: which original expert the order puts there.
--
-- hot-first and coact permute the experts of each layer; position j of layer N holds
-- original expert expert_id. `moewh layout repack` writes the same list into the file as
-- moewh.expert_permutation.N.
-- @grain plan_id, order_name, layer_id, position
--
-- @column plan_id     Plan (v1.layout_plans.plan_id).
-- @column order_name  hot-first or coact.
-- @column layer_id    Block index.
-- @column position    New expert index in the layer, from 0.
-- @column expert_id   Original expert placed at that position.
SELECT plan_id, order_name, layer_id, position, expert_id
FROM layout_plan_permutations
