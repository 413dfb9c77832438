-- One row per simulation, run, policy and capacity: what an expert cache would have hit.
--
-- Written by `moewh simulate` (warehouse/simulate). An item is one expert of one MoE layer;
-- its size is the bytes of all its layout rows (gate/up/down slices and split biases). The
-- access sequence is the run's decode steps in order (v1.decode_steps), within a step the
-- layers ascending, within a layer the distinct selected experts in rank order; every access
-- is a hit or a miss. --slots N holds N items; --budget B holds floor(B / item size) items
-- (the largest item's size when they differ, so resident bytes never exceed B). Scope layer
-- gives each layer its own cache of floor(capacity_items / n_layers) items. The cache starts
-- empty; a miss inserts the item and evicts, never the item being inserted: lru the least
-- recently used, fifo the earliest inserted, lfu the fewest accesses since the start (resident
-- or not; ties to the least recently used), belady the item whose next access is farthest
-- (never = infinitely far; ties to the lower layer, then the lower expert): the optimum of
-- demand caching. static keeps the capacity_items items most activated in the training runs
-- (ties to the lower layer, then lower expert; per layer in scope layer) and streams every
-- miss without inserting it. Capacity 0 caches nothing. A run with no decode step has
-- n_accesses 0 and NULL rates.
--
-- @grain sim_id, run_id, policy, budget_bytes, capacity_items
--
-- @column sim_id                 Simulation (digest of scope, capacity unit and training set).
-- @column run_id                 Run (v1.runs.run_id).
-- @column policy                 lru, fifo, lfu, static or belady.
-- @column scope                  global (one cache) or layer (one cache per layer).
-- @column capacity_unit          bytes (--budget) or slots (--slots).
-- @column budget_bytes           The byte budget; NULL for --slots.
-- @column capacity_items         Items the cache holds (all layers together).
-- @column n_layers               MoE layers of the run's grid (v1.run_shape).
-- @column working_set_items      The most distinct items one decode step touches (n_layers x k for
--                                a complete trace): below it lru hits nothing.
-- @column n_steps                Decode steps of the run.
-- @column n_accesses             Accesses (hits + misses).
-- @column hits                   Accesses that found the item resident.
-- @column misses                 n_accesses - hits.
-- @column hit_rate               hits / n_accesses; NULL without accesses.
-- @column bytes_loaded           Bytes of the missed items (loaded, or streamed by static); NULL
--                                when the run has no model.
-- @column bytes_loaded_per_step  bytes_loaded / n_steps.
-- @column belady_hits            Hits of belady at the same scope and capacity.
-- @column regret                 (belady_hits - hits) / n_accesses: the hit rate left on the table.
-- @column train                  Training set: self, domain:D, or the training runs' names.
-- @column in_sample              static: the training runs include this run; NULL for the others.
-- @column simulated_at           When the simulation ran.
SELECT
    c.sim_id,
    c.run_id,
    c.policy,
    s.scope,
    s.capacity_unit,
    c.budget_bytes,
    c.capacity_items,
    c.n_layers,
    c.working_set_items,
    c.n_steps,
    c.n_accesses,
    c.hits,
    c.n_accesses - c.hits AS misses,
    CAST(c.hits AS DOUBLE) / NULLIF(c.n_accesses, 0) AS hit_rate,
    c.bytes_loaded,
    CAST(c.bytes_loaded AS DOUBLE) / NULLIF(c.n_steps, 0) AS bytes_loaded_per_step,
    c.belady_hits,
    CAST(c.belady_hits - c.hits AS DOUBLE) / NULLIF(c.n_accesses, 0) AS regret,
    s.train,
    c.in_sample,
    s.simulated_at
FROM cache_sim_results AS c
JOIN simulations AS s ON s.sim_id = c.sim_id
