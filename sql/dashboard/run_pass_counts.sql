-- Passes per run, split into warm-up, prompt and generate, for the selected runs.
SELECT
    run_id,
    count(*) AS passes,
    count(*) FILTER (WHERE is_warmup) AS warmup_passes,
    count(*) FILTER (WHERE NOT is_warmup AND phase = 'PROMPT') AS prompt_passes,
    count(*) FILTER (WHERE NOT is_warmup AND phase = 'GENERATE') AS generate_passes
FROM v1.passes
WHERE run_id IN (SELECT unnest($run_ids))
GROUP BY run_id
