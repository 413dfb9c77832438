-- Token timeline: the experts each decode step selected in one layer of one run, in rank order.
SELECT s.pass_id, s.step, d.token_id, d.phase, s.expert_id, s.rank
FROM v1.step_experts AS s
JOIN v1.decode_steps AS d ON d.run_id = s.run_id AND d.pass_id = s.pass_id
WHERE s.run_id = $run_id AND s.layer_id = $layer_id
ORDER BY s.pass_id, s.rank
