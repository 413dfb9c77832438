-- Results of `moewh simulate`: expert cache policies and prefetch predictors replayed over the
-- runs' decode steps (warehouse/simulate). Read through v1.cache_results,
-- v1.cache_layer_results and v1.predictor_results. Each simulation's rows are replaced when
-- the same simulation is run again.

-- One row per simulation: what it simulated and what static and the predictors trained on.
-- sim_id is a digest of kind, scope, capacity unit and training set, so the same simulation
-- run again has the same id.
CREATE TABLE simulations (
    sim_id         VARCHAR PRIMARY KEY,
    kind           VARCHAR NOT NULL,   -- cache | predictors
    scope          VARCHAR,            -- global | layer (cache); NULL for predictors
    capacity_unit  VARCHAR,            -- bytes (--budget) | slots (--slots); NULL for predictors
    train          VARCHAR NOT NULL,   -- self, domain:D, or the training runs' names joined by ','
    train_run_ids  VARCHAR,            -- the training runs' ids joined by ','; NULL = each run itself
    simulated_at   TIMESTAMP NOT NULL
);

-- One row per simulation, run, policy and capacity.
CREATE TABLE cache_sim_results (
    sim_id             VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,
    policy             VARCHAR NOT NULL,   -- lru | fifo | lfu | static | belady
    budget_bytes       BIGINT,             -- NULL for --slots
    capacity_items     BIGINT NOT NULL,    -- items the whole cache holds
    n_layers           INTEGER NOT NULL,
    working_set_items  INTEGER NOT NULL,   -- most distinct items of one step
    n_steps            INTEGER NOT NULL,
    n_accesses         BIGINT NOT NULL,
    hits               BIGINT NOT NULL,
    bytes_loaded       BIGINT,             -- NULL when the run has no item sizes
    belady_hits        BIGINT NOT NULL,    -- belady at the same scope and capacity
    in_sample          BOOLEAN             -- static only: trained on runs that include this one
);

-- The same per MoE layer.
CREATE TABLE cache_sim_layers (
    sim_id                VARCHAR NOT NULL,
    run_id                VARCHAR NOT NULL,
    policy                VARCHAR NOT NULL,
    budget_bytes          BIGINT,
    capacity_items        BIGINT NOT NULL,
    layer_id              INTEGER NOT NULL,
    layer_capacity_items  BIGINT,          -- scope layer: the layer's own cache; NULL for global
    n_accesses            BIGINT NOT NULL,
    hits                  BIGINT NOT NULL,
    bytes_loaded          BIGINT,
    belady_hits           BIGINT NOT NULL
);

-- One row per simulation, run and predictor.
CREATE TABLE predictor_sim_results (
    sim_id         VARCHAR NOT NULL,
    run_id         VARCHAR NOT NULL,
    predictor      VARCHAR NOT NULL,   -- prev-token | static | transition | oracle
    n_steps        INTEGER NOT NULL,
    n_predictions  BIGINT NOT NULL,    -- steps and layers scored
    recall         DOUBLE,
    "precision"    DOUBLE,
    wasted_bytes   BIGINT,             -- NULL when the run has no item sizes
    in_sample      BOOLEAN             -- trained predictors only
);
