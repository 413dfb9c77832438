-- Trace runs: decoded tracer records and what is derived from them at ingest.

-- One row per ingested trace. run_id derives from the content of the records used.
CREATE TABLE runs (
    run_id                 VARCHAR PRIMARY KEY,
    run_name               VARCHAR NOT NULL,
    experiment             VARCHAR,
    domain                 VARCHAR,
    prompt                 VARCHAR,
    n_predict              INTEGER,
    model_id               VARCHAR,          -- NULL when no layout was given
    source_path            VARCHAR,
    source_format          VARCHAR NOT NULL, -- 'trace-1024' | 'trace-256' | 'token-json'
    op_table               VARCHAR NOT NULL, -- e.g. 'ggml-2026-01'
    n_records              BIGINT NOT NULL,
    n_passes               INTEGER NOT NULL,
    experts_used           INTEGER,          -- k used to read selections
    experts_used_source    VARCHAR,          -- 'model' | 'option' | 'inferred'
    file_size_bytes        BIGINT,
    skipped_tail_bytes     BIGINT NOT NULL DEFAULT 0,
    dropped_partial_bytes  BIGINT NOT NULL DEFAULT 0,
    hole_records           BIGINT NOT NULL DEFAULT 0,  -- unused (all-zero) records between used ones
    tags                   MAP(VARCHAR, VARCHAR),
    ingested_at            TIMESTAMP NOT NULL
);

-- One row per used trace record (graph operation).
CREATE TABLE records (
    run_id        VARCHAR NOT NULL,
    record_id     BIGINT NOT NULL,    -- index of the record in the file (0-based)
    pass_id       INTEGER NOT NULL,
    timestamp_ns  BIGINT NOT NULL,
    token_id      BIGINT NOT NULL,
    layer_id      INTEGER,            -- NULL for 65535
    thread_id     INTEGER NOT NULL,
    op_code       SMALLINT NOT NULL,
    op_name       VARCHAR,            -- from the run's op table; NULL for an unknown code
    phase         VARCHAR NOT NULL,   -- 'PROMPT' | 'GENERATE' | 'UNKNOWN'
    num_sources   SMALLINT NOT NULL,
    num_experts   SMALLINT NOT NULL,
    dst_name      VARCHAR
);

-- One row per valid source slot of a record.
CREATE TABLE sources (
    run_id         VARCHAR NOT NULL,
    record_id      BIGINT NOT NULL,
    slot           SMALLINT NOT NULL,
    name           VARCHAR,
    tensor_ptr     UBIGINT,
    size_bytes     BIGINT,            -- as recorded: truncated to 32 bits
    layer_id       INTEGER,
    memory_source  VARCHAR NOT NULL,  -- 'DISK' | 'BUFFER' | 'UNKNOWN'
    disk_offset    BIGINT,            -- DISK: absolute GGUF offset of the whole tensor; NULL if 0/unknown
    buffer_id      UBIGINT,           -- BUFFER only
    tensor_idx     BIGINT             -- NULL for none
);

-- One row per recorded expert id of a MUL_MAT_ID / ADD_ID record.
CREATE TABLE record_experts (
    run_id     VARCHAR NOT NULL,
    record_id  BIGINT NOT NULL,
    slot       SMALLINT NOT NULL,
    expert_id  INTEGER NOT NULL
);

-- One row per graph evaluation.
CREATE TABLE passes (
    run_id           VARCHAR NOT NULL,
    pass_id          INTEGER NOT NULL,  -- execution order, 0-based
    token_id         BIGINT,
    phase            VARCHAR,
    n_records        INTEGER NOT NULL,
    n_batch_tokens   INTEGER,           -- from the ffn_moe_topk id tensor's size
    ids_per_token    INTEGER,           -- ne0 of the id tensor
    is_warmup        BOOLEAN NOT NULL,
    t_start_ns       BIGINT NOT NULL,
    t_end_ns         BIGINT NOT NULL,
    first_record_id  BIGINT NOT NULL,
    last_record_id   BIGINT NOT NULL,
    PRIMARY KEY (run_id, pass_id)
);

-- The k selected experts per non-warm-up pass and layer, in rank order (filled at ingest).
CREATE TABLE selections (
    run_id     VARCHAR NOT NULL,
    pass_id    INTEGER NOT NULL,
    layer_id   INTEGER NOT NULL,
    rank       SMALLINT NOT NULL,     -- 0 = the router's first choice
    expert_id  INTEGER NOT NULL
);

-- Problems found in a run: per record where one is to blame, else per run.
CREATE TABLE anomalies (
    run_id     VARCHAR NOT NULL,
    record_id  BIGINT,
    kind       VARCHAR NOT NULL,
    detail     VARCHAR
);
