-- One row per graph evaluation (pass) of a run.
--
-- A pass starts with the GET_ROWS whose output is inp_embd. A warm-up pass evaluates all
-- experts, so its MoE records show more ids per token than the model's experts-used count;
-- it yields no expert selections. A pass the end of the trace cut short is incomplete; neither
-- is a decode step (v1.decode_steps).
--
-- @grain run_id, pass_id
-- @column run_id          Run (v1.runs.run_id).
-- @column pass_id         Execution order within the run, from 0.
-- @column token_id        Token label set by the host program (not unique across passes).
-- @column phase           PROMPT or GENERATE, as labelled by the host program.
-- @column n_records       Trace records in the pass.
-- @column n_batch_tokens  Tokens evaluated in the pass, from the expert-id tensor's size.
-- @column is_warmup       True for a warm-up evaluation (a full expert ranking, not a selection).
-- @column t_start_ns      Timestamp of the pass's first record (monotonic ns).
-- @column t_end_ns        Timestamp of the pass's last record (monotonic ns).
-- @column ids_per_token   ne0 of the expert-id tensor: k in a normal pass, the expert count in a
--                         warm-up; NULL for a pass without MoE records.
-- @column first_record_id record_id of the pass's first record.
-- @column last_record_id  record_id of the pass's last record.
-- @column is_complete     False when the pass's MoE records stop before the model's last block (or,
--                         without a model, before the last block the run's passes reach): the trace
--                         ends inside it.
SELECT
    run_id,
    pass_id,
    token_id,
    phase,
    n_records,
    n_batch_tokens,
    is_warmup,
    t_start_ns,
    t_end_ns,
    ids_per_token,
    first_record_id,
    last_record_id,
    is_complete
FROM passes
