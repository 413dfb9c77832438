-- The runs row of one ingested trace.
INSERT INTO runs (run_id, run_name, experiment, domain, prompt, n_predict, model_id, source_path,
                  source_format, op_table, n_records, n_passes, experts_used, experts_used_source,
                  file_size_bytes, skipped_tail_bytes, dropped_partial_bytes, hole_records, tags,
                  ingested_at)
VALUES ($run_id, $run_name, $experiment, $domain, $prompt, $n_predict, $model_id, $source_path,
        $source_format, $op_table, $n_records, $n_passes, $experts_used, $experts_used_source,
        $file_size_bytes, $skipped_tail_bytes, $dropped_partial_bytes, $hole_records,
        MAP(CAST($tag_keys AS VARCHAR[]), CAST($tag_values AS VARCHAR[])), NOW())
