-- Error rows grouped by their message: how many, their share of the run's errors, which tasks
-- and sources they come from, and up to three example sample ids.
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
SELECT run, error,
       count(*) AS rows,
       count(*) / sum(count(*)) OVER (PARTITION BY run) AS share_of_errors,
       list_sort(list(DISTINCT task)) AS tasks,
       list_sort(list(DISTINCT source)) AS sources,
       list(sample_id ORDER BY sample_id)[1:3] AS examples
FROM samples
WHERE decision = 'error' AND ($run IS NULL OR run_index = $run)
GROUP BY run, error
ORDER BY run, rows DESC, error NULLS LAST
