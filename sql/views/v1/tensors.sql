-- One row per tensor of a model's layout, with every MoE expert tensor split per expert.
--
-- A 3-D expert weight blk.N.ffn_{gate,up,down}_exps.weight (and its 2-D expert bias) appears
-- as one row per expert slice named NAME[e], whose byte range is that expert's contiguous
-- part of the tensor. Offsets are absolute file offsets; offset_end is exclusive.
--
-- @grain model_id, tensor_name
-- @column model_id      Model (v1.models.model_id).
-- @column tensor_name   GGUF tensor name, or NAME[e] for expert slice e.
-- @column base_name     GGUF name of the whole tensor.
-- @column expert_id     Expert index of a slice; NULL for other tensors.
-- @column layer_id      Block index N of blk.N.*; NULL outside blocks.
-- @column component     Name without blk.N. and .weight/.bias, e.g. attn_q, ffn_up_exps.
-- @column category      expert, expert_bias, router, attention, ffn, norm, embedding, output or other.
-- @column ggml_type     ggml type name (F16, MXFP4, Q4_K, ...); NULL when the layout file did not say.
-- @column n_dims        Dimensions of this row (an expert slice of a 3-D tensor has 2).
-- @column ne0           Elements along dimension 0.
-- @column ne1           Elements along dimension 1 (1 if unused).
-- @column ne2           Elements along dimension 2 (1 if unused).
-- @column ne3           Elements along dimension 3 (1 if unused).
-- @column offset_start  Absolute file offset of the first byte.
-- @column offset_end    Absolute file offset one past the last byte.
-- @column size_bytes    Bytes of this row.
-- @column file_index    Index of the whole tensor in the file's tensor list.
SELECT
    model_id,
    tensor_name,
    base_name,
    expert_id,
    layer_id,
    component,
    category,
    ggml_type,
    n_dims,
    ne0,
    ne1,
    ne2,
    ne3,
    offset_start,
    offset_end,
    size_bytes,
    file_index
FROM tensors
