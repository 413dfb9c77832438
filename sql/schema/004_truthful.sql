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
