-- One row per model layout in the warehouse.
--
-- A model comes from a GGUF file (`moewh ingest model`) or from a legacy layout file
-- (`moewh ingest layout`); model_id is a content fingerprint, so the same file under another
-- name is the same model. Facts a legacy file lacks are NULL or inferred (see inferred).
--
-- @grain model_id
-- @column model_id         Content fingerprint of the GGUF header and tensor-info section (or of the layout file).
-- @column model_name       Name given at ingest, else the file name.
-- @column source_kind      gguf, gguf-dump-csv or memory-map-json.
-- @column file_name        File name the layout was read from.
-- @column architecture     general.architecture, e.g. gpt-oss.
-- @column n_layers         Block count.
-- @column n_experts        Experts per MoE layer.
-- @column n_experts_used   Experts selected per token (k).
-- @column n_embd           Embedding length.
-- @column n_vocab          Vocabulary size.
-- @column file_size_bytes  Size of the model file in bytes.
-- @column data_offset      Absolute offset of the tensor data section.
-- @column alignment        Data alignment in bytes (general.alignment, default 32).
-- @column n_tensors        Tensors as the file lists them (expert tensors unsplit).
-- @column n_layout_rows    Rows in v1.tensors for this model (expert tensors split per expert).
-- @column weight_bytes     Sum of size_bytes over the layout rows.
-- @column inferred         Columns whose value was inferred rather than read from the file.
SELECT
    m.model_id,
    m.model_name,
    m.source_kind,
    m.file_name,
    m.architecture,
    m.n_layers,
    m.n_experts,
    m.n_experts_used,
    m.n_embd,
    m.n_vocab,
    m.file_size_bytes,
    m.data_offset,
    m.alignment,
    m.n_tensors,
    COALESCE(t.n_rows, 0) AS n_layout_rows,
    COALESCE(t.weight_bytes, 0) AS weight_bytes,
    m.inferred
FROM models AS m
LEFT JOIN (
    SELECT model_id, COUNT(*) AS n_rows, CAST(SUM(size_bytes) AS BIGINT) AS weight_bytes
    FROM tensors
    GROUP BY model_id
) AS t ON t.model_id = m.model_id
