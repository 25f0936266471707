-- Rejected rows per failure mode by run, task and source. A row with several modes counts once
-- under each: `alone` counts rows where it is the only mode, `with_others` rows where it
-- co-occurs with another (see failure_mode_pairs for which). Shares are of the rejects and of
-- the scored (keep + reject) rows of the same run/task/source.
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param by_source bool true  split by source (false: one row per task and mode with source '(all)')
WITH grouped AS (
    -- group on the raw lists first: list functions per row are slow on millions of rows
    SELECT run, task, CASE WHEN $by_source THEN source ELSE '(all)' END AS source, decision, failure_modes,
           count(*) AS n
    FROM samples
    WHERE $run IS NULL OR run_index = $run
    GROUP BY ALL
), denom AS (
    SELECT run, task, source,
           coalesce(sum(n) FILTER (WHERE decision = 'reject'), 0) AS rejects,
           coalesce(sum(n) FILTER (WHERE decision IN ('keep', 'reject')), 0) AS scored
    FROM grouped GROUP BY ALL
), per_mode AS (
    SELECT run, task, source, mode,
           sum(n) AS rows,
           coalesce(sum(n) FILTER (WHERE n_modes = 1), 0) AS alone,
           coalesce(sum(n) FILTER (WHERE n_modes > 1), 0) AS with_others
    FROM (SELECT run, task, source, n, len(modes) AS n_modes, unnest(modes) AS mode
          FROM (SELECT run, task, source, n, list_distinct(coalesce(failure_modes, [])) AS modes
                FROM grouped WHERE decision = 'reject'))
    GROUP BY ALL
)
SELECT p.run, p.task, p.source, p.mode, p.rows::BIGINT AS rows, p.alone::BIGINT AS alone,
       p.with_others::BIGINT AS with_others, d.rejects::BIGINT AS rejects, d.scored::BIGINT AS scored,
       p.rows / d.rejects AS share_of_rejects,
       p.rows / d.scored AS share_of_scored
FROM per_mode p
JOIN denom d ON p.run = d.run AND p.task = d.task AND p.source IS NOT DISTINCT FROM d.source
ORDER BY p.run, p.task, p.source NULLS LAST, p.rows DESC, p.mode
