-- Distribution summary of every score by run, task, source and model: count, mean, standard
-- deviation, min, exact quantiles (5/25/50/75/95 %, linear interpolation) and max. Scores as in
-- score_histogram (the `scores` view). `model` is the model id the rows carry (several are joined
-- with ', ').
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param by_source bool true  split by source (false: source '(all)')
WITH agg AS (
    SELECT run_index, task, CASE WHEN $by_source THEN source ELSE '(all)' END AS source, score,
           min(score_order) AS score_order,
           string_agg(DISTINCT model, ', ' ORDER BY model) AS model,
           count(value) AS n, avg(value) AS mean, stddev_samp(value) AS std, min(value) AS min,
           max(value) AS max, quantile_cont(value, [0.05, 0.25, 0.5, 0.75, 0.95]) AS q
    FROM scores
    WHERE $run IS NULL OR run_index = $run
    GROUP BY ALL
)
SELECT r.run, a.task, a.source, a.score, a.model, a.n, a.mean, a.std, a.min,
       a.q[1] AS p05, a.q[2] AS p25, a.q[3] AS p50, a.q[4] AS p75, a.q[5] AS p95, a.max
FROM agg a
JOIN runs r ON r.run_index = a.run_index
WHERE a.n > 0
ORDER BY a.run_index, a.task, a.source NULLS LAST, a.score_order
