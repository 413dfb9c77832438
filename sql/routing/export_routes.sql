-- The interchange rows of the runs in $run_ids (every run when the list is empty), from
-- v1.token_routes (so trace runs export too). A run is named by its run name, or by name and
-- run_id where two exported runs share a name.
WITH picked AS (
    SELECT
        run_id,
        CASE WHEN COUNT(*) OVER (PARTITION BY run_name) > 1 THEN run_name || ' ' || run_id ELSE run_name END AS run
    FROM runs
    WHERE len(CAST($run_ids AS VARCHAR[])) = 0 OR list_contains(CAST($run_ids AS VARCHAR[]), run_id)
)
SELECT
    p.run,
    t.position,
    t.phase,
    CAST(t.layer_id AS INTEGER) AS layer,
    CAST(t.rank AS SMALLINT) AS rank,
    CAST(t.expert_id AS INTEGER) AS expert,
    t.weight,
    t.token_id,
    t.step,
    t.pass_id,
    t.recorded_residency AS residency,
    t.trusted
FROM v1.token_routes AS t
JOIN picked AS p ON p.run_id = t.run_id
ORDER BY p.run, t.position, t.layer_id, t.rank
