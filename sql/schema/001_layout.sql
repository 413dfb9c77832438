-- Models and their split-expert tensor layouts.

CREATE TABLE schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        VARCHAR NOT NULL,
    applied_at  TIMESTAMP NOT NULL
);

-- One row per loaded view set (sql/views/<set>/); version hashes the set's SQL.
CREATE TABLE view_sets (
    view_set    VARCHAR PRIMARY KEY,
    version     VARCHAR NOT NULL,
    n_views     INTEGER NOT NULL,
    loaded_at   TIMESTAMP NOT NULL
);

-- One row per model layout. model_id is a content fingerprint: of the GGUF header and
-- tensor-info section, or of a legacy layout file's content.
CREATE TABLE models (
    model_id         VARCHAR PRIMARY KEY,  -- first 16 hex digits of fingerprint
    fingerprint      VARCHAR,              -- sha256 hex of the fingerprinted bytes
    model_name       VARCHAR NOT NULL,
    source_kind      VARCHAR NOT NULL,   -- 'gguf' | 'gguf-dump-csv' | 'memory-map-json'
    source_path      VARCHAR,
    file_name        VARCHAR,
    file_size_bytes  BIGINT,
    gguf_version     INTEGER,
    architecture     VARCHAR,
    n_layers         INTEGER,
    n_experts        INTEGER,
    n_experts_used   INTEGER,
    n_embd           BIGINT,
    n_vocab          BIGINT,
    data_offset      BIGINT,
    alignment        INTEGER,
    n_tensors        INTEGER,            -- tensors as the file lists them, experts unsplit
    inferred         VARCHAR[],          -- names of the columns above that were inferred, not read
    ingested_at      TIMESTAMP NOT NULL
);

-- Scalar GGUF metadata; arrays are summarised by element type and length.
CREATE TABLE model_metadata (
    model_id      VARCHAR NOT NULL,
    key           VARCHAR NOT NULL,
    value_type    VARCHAR NOT NULL,      -- GGUF value type name (UINT32, STRING, ARRAY, ...)
    value         VARCHAR,               -- scalar rendered as text (strings cut at 65,536 bytes); NULL for arrays
    value_length  BIGINT,                -- bytes of a STRING value before any cut
    array_type    VARCHAR,
    array_length  BIGINT,
    PRIMARY KEY (model_id, key)
);

-- One row per tensor, with every MoE expert tensor split into one row per expert slice.
CREATE TABLE tensors (
    model_id      VARCHAR NOT NULL,
    tensor_name   VARCHAR NOT NULL,      -- GGUF name, or NAME[e] for an expert slice
    base_name     VARCHAR NOT NULL,      -- GGUF name of the whole tensor
    expert_id     INTEGER,               -- NULL unless an expert slice
    layer_id      INTEGER,               -- blk.N -> N; NULL outside blocks
    component     VARCHAR,               -- name without blk.N. and .weight/.bias: attn_q, ffn_gate_exps, ...
    category      VARCHAR NOT NULL,      -- expert | expert_bias | router | attention | ffn | norm | embedding | output | other
    ggml_type     VARCHAR,               -- NULL when the layout file did not say
    n_dims        INTEGER,               -- dims of this row (a 3-D expert tensor's slice has 2)
    ne0           BIGINT,
    ne1           BIGINT,
    ne2           BIGINT,
    ne3           BIGINT,
    offset_start  BIGINT NOT NULL,       -- absolute file offset
    offset_end    BIGINT NOT NULL,       -- exclusive
    size_bytes    BIGINT NOT NULL,
    file_index    INTEGER NOT NULL,      -- index of the whole tensor in the file's tensor list
    PRIMARY KEY (model_id, tensor_name)
);
