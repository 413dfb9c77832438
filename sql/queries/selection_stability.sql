-- Is expert selection stable across tokens? Per run: how often the router keeps an expert from one decode step to the next.
--
-- Averages v1.expert_stickiness over the run's MoE layers. repeat_probability far above the
-- random baseline k/n (lift > 1) means consecutive tokens reuse experts, so an expert cache
-- would hit; mean_jaccard is the overlap of consecutive steps' expert sets. The least and
-- most sticky layers show where a cache would help least and most.
--
-- Usage: moewh query --file sql/queries/selection_stability.sql -p min_steps=10
--
-- @param min_steps  10  Leave out runs with fewer decode steps than this.
SELECT
    r.run_name,
    r.domain,
    MAX(s.n_pairs) + 1 AS n_steps,
    ROUND(AVG(s.repeat_probability), 4) AS repeat_probability,
    ROUND(AVG(s.baseline), 4) AS baseline,
    ROUND(AVG(s.lift), 2) AS lift,
    ROUND(AVG(s.mean_jaccard), 4) AS mean_jaccard,
    ARG_MIN(s.layer_id, s.repeat_probability) AS least_sticky_layer,
    ARG_MAX(s.layer_id, s.repeat_probability) AS most_sticky_layer
FROM v1.expert_stickiness AS s
JOIN v1.runs AS r ON r.run_id = s.run_id
GROUP BY r.run_name, r.domain
HAVING MAX(s.n_pairs) + 1 >= $min_steps
ORDER BY lift DESC, r.run_name
