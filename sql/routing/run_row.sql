-- The runs row of a routing-only run (no op-level records: n_records 0, op_table 'none').
INSERT INTO runs (run_id, run_name, experiment, domain, prompt, n_predict, model_id, source_path,
                  source_format, op_table, n_records, n_passes, experts_used, experts_used_source,
                  file_size_bytes, tags, ingested_at)
VALUES ($run_id, $run_name, $experiment, $domain, $prompt, $n_predict, $model_id, $source_path,
        $source_format, 'none', 0, $n_passes, $experts_used, $experts_used_source, $file_size_bytes,
        MAP(CAST($tag_keys AS VARCHAR[]), CAST($tag_values AS VARCHAR[])), NOW())
