-- Exact sets of failure modes on rejected rows ("instruction_alignment + visual_artifacts"), by
-- run and task, with each set's share of the rejects.
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
WITH grouped AS (
    -- group on the raw lists first: list functions per row are slow on millions of rows
    SELECT run, task, failure_modes, count(*) AS n
    FROM samples
    WHERE decision = 'reject' AND ($run IS NULL OR run_index = $run)
    GROUP BY ALL
), combos AS (
    SELECT run, task, list_sort(list_distinct(coalesce(failure_modes, []))) AS modes, sum(n) AS rows
    FROM grouped GROUP BY run, task, modes
)
SELECT run, task, array_to_string(modes, ' + ') AS modes, len(modes) AS n_modes, rows::BIGINT AS rows,
       rows / sum(rows) OVER (PARTITION BY run, task) AS share_of_rejects
FROM combos
ORDER BY run, task, rows DESC, modes
