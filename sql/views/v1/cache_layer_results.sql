-- One row per simulation, run, policy, capacity and MoE layer: v1.cache_results by layer.
--
-- In scope global the layer's accesses share one cache with every other layer; in scope layer
-- the layer has its own cache of layer_capacity_items = floor(capacity_items / n_layers)
-- items. The rules are those of v1.cache_results.
--
-- @grain sim_id, run_id, policy, budget_bytes, capacity_items, layer_id
--
-- @column sim_id                Simulation (v1.cache_results.sim_id).
-- @column run_id                Run (v1.runs.run_id).
-- @column policy                lru, fifo, lfu, static or belady.
-- @column scope                 global or layer.
-- @column budget_bytes          The byte budget; NULL for --slots.
-- @column capacity_items        Items the whole cache holds.
-- @column layer_id              Block index.
-- @column layer_capacity_items  Scope layer: items this layer's cache holds; NULL for global.
-- @column n_accesses            Accesses of this layer.
-- @column hits                  Of them, hits.
-- @column misses                n_accesses - hits.
-- @column hit_rate              hits / n_accesses; NULL without accesses.
-- @column bytes_loaded          Bytes of this layer's missed items; NULL when the run has no model.
-- @column belady_hits           Hits of belady on this layer at the same scope and capacity.
-- @column regret                (belady_hits - hits) / n_accesses.
SELECT
    c.sim_id,
    c.run_id,
    c.policy,
    s.scope,
    c.budget_bytes,
    c.capacity_items,
    c.layer_id,
    c.layer_capacity_items,
    c.n_accesses,
    c.hits,
    c.n_accesses - c.hits AS misses,
    CAST(c.hits AS DOUBLE) / NULLIF(c.n_accesses, 0) AS hit_rate,
    c.bytes_loaded,
    c.belady_hits,
    CAST(c.belady_hits - c.hits AS DOUBLE) / NULLIF(c.n_accesses, 0) AS regret
FROM cache_sim_layers AS c
JOIN simulations AS s ON s.sim_id = c.sim_id
