-- Layout plans (`moewh layout plan`): candidate byte orders of a model replayed against decode steps.

-- One row per plan: its inputs. plan_id is a digest of them, so the same plan again replaces itself.
CREATE TABLE layout_plans (
    plan_id          VARCHAR PRIMARY KEY,
    model_id         VARCHAR NOT NULL,
    orders           VARCHAR[] NOT NULL,   -- candidate orders, as given
    scored_runs      VARCHAR[] NOT NULL,   -- runs replayed
    train_runs       VARCHAR[] NOT NULL,   -- runs hot-first and coact learned from
    page_bytes       BIGINT NOT NULL,
    readahead_bytes  BIGINT NOT NULL,
    merge_gap_bytes  BIGINT NOT NULL,
    created_at       TIMESTAMP NOT NULL
);

-- One row per plan, scored run and order: the run's figures under that order.
CREATE TABLE layout_plan_results (
    plan_id                          VARCHAR NOT NULL,
    run_id                           VARCHAR NOT NULL,
    order_name                       VARCHAR NOT NULL,
    in_sample                        BOOLEAN NOT NULL,
    n_steps                          INTEGER NOT NULL,
    mean_bytes_per_step              DOUBLE,
    mean_extents_per_step            DOUBLE,
    p50_extents_per_step             DOUBLE,
    p95_extents_per_step             DOUBLE,
    mean_pages_per_step              DOUBLE,
    p50_pages_per_step               DOUBLE,
    p95_pages_per_step               DOUBLE,
    mean_readahead_windows_per_step  DOUBLE,
    p95_readahead_windows_per_step   DOUBLE,
    distinct_bytes                   BIGINT
);

-- One row per plan, scored run, order and decode step.
CREATE TABLE layout_plan_steps (
    plan_id            VARCHAR NOT NULL,
    run_id             VARCHAR NOT NULL,
    order_name         VARCHAR NOT NULL,
    step               INTEGER NOT NULL,
    bytes              BIGINT NOT NULL,
    extents            INTEGER NOT NULL,
    pages              BIGINT NOT NULL,
    readahead_windows  BIGINT NOT NULL
);

-- One row per plan, order and layout row: where the row sits in that order.
CREATE TABLE layout_plan_offsets (
    plan_id       VARCHAR NOT NULL,
    order_name    VARCHAR NOT NULL,
    tensor_name   VARCHAR NOT NULL,
    offset_start  BIGINT NOT NULL,
    offset_end    BIGINT NOT NULL
);

-- One row per plan, trained order, layer and new expert position: the original expert placed there.
CREATE TABLE layout_plan_permutations (
    plan_id     VARCHAR NOT NULL,
    order_name  VARCHAR NOT NULL,
    layer_id    INTEGER NOT NULL,
    position    INTEGER NOT NULL,
    expert_id   INTEGER NOT NULL
);
