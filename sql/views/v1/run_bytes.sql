-- One row per run: model bytes touched per decode step and over the whole run.
--
-- Statistics of v1.pass_bytes.total_bytes over the run's decode steps (p50 and p95
-- interpolate linearly between order statistics, as PERCENTILE_CONT and NumPy do), and the
-- distinct bytes touched by any step: every non-expert tensor read at least once plus every
-- expert slice selected at least once, each counted once (a tensor only gathered from, the
-- token embedding, counts the rows gathered over the run: an upper bound, which rows is not
-- recorded). Byte columns are NULL for a run
-- without a model or without decode steps.
--
-- @grain run_id
-- @column run_id             Run (v1.runs.run_id).
-- @column model_id           Model of the run.
-- @column n_steps            Decode steps of the run.
-- @column mean_step_bytes    Mean total_bytes per decode step.
-- @column p50_step_bytes     Median total_bytes per decode step.
-- @column p95_step_bytes     95th percentile of total_bytes per decode step.
-- @column distinct_bytes     Bytes of the distinct tensors and expert slices touched over the run.
-- @column distinct_fraction  distinct_bytes / the model's weight bytes.
WITH ranked AS (
    -- percentiles by hand (linear interpolation between order statistics, as PERCENTILE_CONT):
    -- engines disagree on exact percentile functions, and some only approximate them
    SELECT
        run_id,
        total_bytes,
        ROW_NUMBER() OVER (PARTITION BY run_id ORDER BY total_bytes) - 1 AS i,
        CAST(COUNT(*) OVER (PARTITION BY run_id) - 1 AS DOUBLE) AS last
    FROM v1.pass_bytes
    WHERE total_bytes IS NOT NULL
),
step_stats AS (
    SELECT
        run_id,
        AVG(CAST(total_bytes AS DOUBLE)) AS mean_step_bytes,
        MAX(CASE WHEN i = FLOOR(last * 0.5) THEN total_bytes END) AS p50_lo,
        MAX(CASE WHEN i = CEIL(last * 0.5) THEN total_bytes END) AS p50_hi,
        MAX(last * 0.5 - FLOOR(last * 0.5)) AS p50_frac,
        MAX(CASE WHEN i = FLOOR(last * 0.95) THEN total_bytes END) AS p95_lo,
        MAX(CASE WHEN i = CEIL(last * 0.95) THEN total_bytes END) AS p95_hi,
        MAX(last * 0.95 - FLOOR(last * 0.95)) AS p95_frac
    FROM ranked
    GROUP BY run_id
),
dense AS (
    -- distinct non-expert tensors read by any decode step (the rule of v1.pass_tensor_reads):
    -- a tensor some step read whole counts whole; one only ever gathered from (the token
    -- embedding) counts the rows gathered over the run, at most all of them, since which rows
    -- is not recorded: an upper bound on its distinct bytes
    SELECT
        x.run_id,
        CAST(SUM(CASE
            WHEN x.whole_reads > 0 OR NOT t.ne1 * t.ne2 * t.ne3 > 0 THEN t.size_bytes
            ELSE LEAST(x.rows, t.ne1 * t.ne2 * t.ne3) * (t.size_bytes // (t.ne1 * t.ne2 * t.ne3))
        END) AS BIGINT) AS bytes
    FROM (
        SELECT run_id, disk_offset, COUNT(*) - COUNT(gathered_rows) AS whole_reads, SUM(gathered_rows) AS rows
        FROM pass_disk_reads
        WHERE step IS NOT NULL
        GROUP BY run_id, disk_offset
    ) AS x
    JOIN runs AS ru ON ru.run_id = x.run_id
    JOIN tensors AS t ON t.model_id = ru.model_id AND t.offset_start = x.disk_offset
    WHERE t.expert_id IS NULL AND t.category <> 'expert'
    GROUP BY x.run_id
),
experts AS (
    SELECT h.run_id, CAST(SUM(t.size_bytes) AS BIGINT) AS bytes
    FROM v1.expert_hotness AS h
    JOIN runs AS r ON r.run_id = h.run_id
    JOIN tensors AS t
        ON t.model_id = r.model_id AND t.layer_id = h.layer_id AND t.expert_id = h.expert_id
    WHERE h.activations > 0
    GROUP BY h.run_id
)
SELECT
    s.run_id,
    s.model_id,
    s.n_steps,
    st.mean_step_bytes,
    st.p50_lo + st.p50_frac * (st.p50_hi - st.p50_lo) AS p50_step_bytes,
    st.p95_lo + st.p95_frac * (st.p95_hi - st.p95_lo) AS p95_step_bytes,
    CASE WHEN s.model_id IS NOT NULL AND s.n_steps > 0
        THEN COALESCE(d.bytes, 0) + COALESCE(e.bytes, 0) END AS distinct_bytes,
    CASE WHEN s.model_id IS NOT NULL AND s.n_steps > 0
        THEN CAST(COALESCE(d.bytes, 0) + COALESCE(e.bytes, 0) AS DOUBLE) / NULLIF(m.weight_bytes, 0)
    END AS distinct_fraction
FROM v1.run_shape AS s
LEFT JOIN step_stats AS st ON st.run_id = s.run_id
LEFT JOIN dense AS d ON d.run_id = s.run_id
LEFT JOIN experts AS e ON e.run_id = s.run_id
LEFT JOIN v1.models AS m ON m.model_id = s.model_id
