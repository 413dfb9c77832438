-- Token-level routing: runs imported from routing recorders (vLLM, SGLang, llama.cpp's
-- moe-trace, BigMoeOnEdge, Hugging Face router logits, the interchange format) and captured
-- runs. Filled by warehouse.ingest.routing.ingest_routes. Runs of the 1024-byte tracer keep
-- their selections; v1.token_routes and v1.tokens show those as one token per pass.

-- One row per run, token position, MoE layer and rank.
CREATE TABLE token_routes (
    run_id              VARCHAR NOT NULL,
    position            BIGINT NOT NULL,   -- 0-based position in the sequence
    token_id            BIGINT,            -- NULL if unknown
    phase               VARCHAR NOT NULL,  -- 'prompt' | 'generate'
    step                INTEGER,           -- decode step of a generated token; NULL for prompt tokens
    pass_id             INTEGER,           -- graph evaluation; NULL if the source has none
    layer_id            INTEGER NOT NULL,
    rank                SMALLINT NOT NULL, -- 0 = the router's first choice
    expert_id           INTEGER NOT NULL,
    weight              DOUBLE,            -- applied routing weight; NULL where the source has none
    recorded_residency  VARCHAR,           -- 'hit' | 'miss' | 'prefetch-hit' as the recorder said; else NULL
    trusted             BOOLEAN NOT NULL   -- false where the recorder itself may be wrong
);

-- One row per run and token position.
CREATE TABLE tokens (
    run_id    VARCHAR NOT NULL,
    position  BIGINT NOT NULL,
    token_id  BIGINT,
    piece     VARCHAR,                     -- token text; NULL if unknown
    phase     VARCHAR NOT NULL,
    step      INTEGER,
    pass_id   INTEGER
);

-- One row per run whose routing came through ingest_routes: the facts its recorder states.
CREATE TABLE routing_runs (
    run_id                 VARCHAR PRIMARY KEY,
    routing_only           BOOLEAN NOT NULL,  -- true: no op-level records; decode steps are the generated tokens
    n_layers               INTEGER,           -- as the recorder states them; NULL if it does not
    n_experts              INTEGER,
    n_tokens               BIGINT NOT NULL,
    n_prompt_tokens        BIGINT NOT NULL,
    n_generated_tokens     BIGINT NOT NULL,
    counts_only            BOOLEAN NOT NULL,  -- only activation counts, no tokens (SGLang stat dumps)
    untrusted_rows         BIGINT NOT NULL,
    bytes_source           VARCHAR,           -- 'layout' | 'recorder' | NULL: where estimated bytes come from
    dense_bytes_per_token  BIGINT             -- estimated dense weight bytes a token reads
);

-- Per-layer byte sizes a recorder states (route_trace preamble), standing in for a layout.
CREATE TABLE routing_layer_bytes (
    run_id        VARCHAR NOT NULL,
    layer_id      INTEGER NOT NULL,
    expert_bytes  BIGINT NOT NULL,   -- one expert's slices in the layer
    dense_bytes   BIGINT NOT NULL    -- the layer's dense weights
);

-- Activation counts of counts-only runs, per layer and expert (every token counted).
CREATE TABLE routing_counts (
    run_id       VARCHAR NOT NULL,
    layer_id     INTEGER NOT NULL,
    expert_id    INTEGER NOT NULL,
    activations  BIGINT NOT NULL
);
