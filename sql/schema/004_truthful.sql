-- Truthful numbers: bytes a pass really reads, complete passes, derived tables rebuilt.

-- A GET_ROWS that reads a model weight (the token embedding) gathers one row per id of its
-- index source, not the whole tensor. gathered_rows sums those ids over the pass's sources
-- naming the tensor; NULL when any of them reads it whole (MUL_MAT, MUL, ...). v1.pass_tensor_reads
-- turns it into read_bytes with the layout's row size.
ALTER TABLE pass_disk_reads ADD COLUMN gathered_rows BIGINT;

-- The derived tables are rebuilt for every run when an upgrade opens the warehouse
-- (warehouse.ingest.derived.refresh_missing, called by warehouse.db.store after the
-- migrations), so that rows written before this migration gain gathered_rows.
DELETE FROM pass_disk_reads;
DELETE FROM step_selections;

-- A pass cut short by the end of the trace (a killed tracer stops on a record boundary) is
-- not a decode step. Complete: its MoE records reach the model's last block, or without a
-- model the last block any pass of the run reaches (the rule of sql/ingest/trace_passes.sql,
-- applied here once to the runs already in the warehouse).
ALTER TABLE passes ADD COLUMN is_complete BOOLEAN DEFAULT TRUE;

UPDATE passes SET is_complete = c.is_complete
FROM (
    WITH reached AS (
        SELECT
            run_id,
            pass_id,
            MAX(COALESCE(layer_id, TRY_CAST(REGEXP_EXTRACT(dst_name, '-([0-9]+)$', 1) AS INTEGER)))
                FILTER (WHERE num_experts > 0 OR op_name = 'MUL_MAT_ID') AS moe_layer_reached
        FROM records
        GROUP BY run_id, pass_id
    ),
    targets AS (
        SELECT
            x.run_id,
            x.pass_id,
            x.moe_layer_reached,
            COALESCE(m.n_layers - 1, MAX(x.moe_layer_reached) OVER (PARTITION BY x.run_id)) AS last_block
        FROM reached AS x
        JOIN runs AS r ON r.run_id = x.run_id
        LEFT JOIN models AS m ON m.model_id = r.model_id
    )
    SELECT run_id, pass_id,
           last_block IS NULL OR COALESCE(moe_layer_reached >= last_block, FALSE) AS is_complete
    FROM targets
) AS c
WHERE passes.run_id = c.run_id AND passes.pass_id = c.pass_id;
