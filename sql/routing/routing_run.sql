-- The routing_runs row of one run: what its recorder states and where its bytes come from.
INSERT INTO routing_runs (run_id, routing_only, n_layers, n_experts, n_tokens, n_prompt_tokens,
                          n_generated_tokens, counts_only, untrusted_rows, bytes_source, dense_bytes_per_token)
VALUES ($run_id, $routing_only, $n_layers, $n_experts, $n_tokens, $n_prompt_tokens, $n_generated_tokens,
        $counts_only, $untrusted_rows, $bytes_source, $dense_bytes_per_token)
