-- Analysis settings and the trace facts the analysis views need pre-aggregated.

-- Tunable parameters of the analysis views, as text; each view casts what it reads.
CREATE TABLE settings (
    key          VARCHAR PRIMARY KEY,
    value        VARCHAR NOT NULL,
    description  VARCHAR
);

INSERT INTO settings (key, value, description) VALUES
    ('file_region_bucket_bytes', '67108864',
     'Bucket size in bytes of v1.file_regions (default 64 MiB).');

-- The model tensors each pass read from DISK: one row per (pass, whole tensor), however many
-- sources of the pass name it. Filled at trace ingest by warehouse.ingest.derived.refresh_run
-- from sources and records, because mapping 10^7 sources to their pass at query time takes
-- seconds; v1.pass_bytes, v1.run_bytes and v1.file_regions read it instead.
CREATE TABLE pass_disk_reads (
    run_id               VARCHAR NOT NULL,
    pass_id              INTEGER NOT NULL,
    step                 INTEGER,           -- decode step of the pass (v1.decode_steps); NULL for a warm-up
    disk_offset          BIGINT,            -- absolute offset of the whole tensor; NULL if unknown
    name                 VARCHAR,           -- the source name (one of them, if several)
    recorded_size_bytes  BIGINT,            -- largest size_bytes recorded (truncated to 32 bits)
    n_sources            INTEGER NOT NULL   -- source slots of the pass that name this tensor
);

-- The experts selected per decode step and layer: selections keyed by decode step (a
-- non-warm-up pass; step numbers them 0, 1, ... in pass order, as v1.decode_steps does), an id
-- repeated within one selection kept once at its best rank. Filled at trace ingest by
-- warehouse.ingest.derived.refresh_run, because de-duplicating 10^6 selections at query
-- time costs more than v1.expert_hotness may take; read through v1.step_experts.
CREATE TABLE step_selections (
    run_id     VARCHAR NOT NULL,
    step       INTEGER NOT NULL,
    pass_id    INTEGER NOT NULL,
    layer_id   INTEGER NOT NULL,
    expert_id  INTEGER NOT NULL,
    rank       SMALLINT NOT NULL
);
