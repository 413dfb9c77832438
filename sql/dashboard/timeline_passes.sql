-- Token timeline: every pass of one run, warm-up passes included so they can be marked.
SELECT pass_id, token_id, phase, is_warmup, n_records, n_batch_tokens
FROM v1.passes
WHERE run_id = $run_id
ORDER BY pass_id
