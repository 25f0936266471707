-- Co-occurring failure modes: for every pair of modes tagged on the same rejected row, how many
-- rejects carry both, by run and task, and what share of each mode's rejects that is. Pairs
-- with mode_a = mode_b give each mode's total (the diagonal of the co-occurrence matrix).
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
WITH grouped AS (
    -- group on the raw lists first: list functions per row are slow on millions of rows
    SELECT run, task, failure_modes, count(*) AS n
    FROM samples
    WHERE decision = 'reject' AND ($run IS NULL OR run_index = $run)
    GROUP BY ALL
), rej AS (
    SELECT run, task, list_distinct(coalesce(failure_modes, [])) AS modes, n FROM grouped
), pairs AS (
    SELECT run, task, a AS mode_a, b AS mode_b, sum(n)::BIGINT AS rows
    FROM rej, unnest(rej.modes) AS ua(a), unnest(rej.modes) AS ub(b)
    WHERE a <= b
    GROUP BY ALL
), totals AS (
    SELECT run, task, mode_a AS mode, rows FROM pairs WHERE mode_a = mode_b
)
SELECT p.run, p.task, p.mode_a, p.mode_b, p.rows,
       p.rows / ta.rows AS share_of_mode_a,
       p.rows / tb.rows AS share_of_mode_b
FROM pairs p
JOIN totals ta ON ta.run = p.run AND ta.task = p.task AND ta.mode = p.mode_a
JOIN totals tb ON tb.run = p.run AND tb.task = p.task AND tb.mode = p.mode_b
ORDER BY p.run, p.task, (p.mode_a = p.mode_b), p.rows DESC, p.mode_a, p.mode_b
