-- Rows per decision (keep / reject / error) by run, task and source, with each decision's
-- share of its run/task/source rows.
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param by_source bool true  split by source (false: one row per task with source '(all)')
SELECT run, task, source, decision,
       count(*) AS rows,
       count(*) / sum(count(*)) OVER (PARTITION BY run, task, source) AS share
FROM (SELECT run, task, CASE WHEN $by_source THEN source ELSE '(all)' END AS source, decision
      FROM samples
      WHERE ($run IS NULL OR run_index = $run))
GROUP BY run, task, source, decision
ORDER BY run, task, source NULLS LAST, decision
