-- Histogram of every score in [0, 1] (`bins` equal bins; empty bins are left out) by run, task,
-- source and score, with the model id the rows carry. Scores (the `scores` view, from the judge
-- registry): `reward` (the task's reward model: ImgReward on t2i, EditReward on edit), `vqa`
-- (VQAScore) and each reward sub-score the run recorded.
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param bins int 20  number of equal-width bins over [0, 1]
-- @param by_source bool true  split by source (false: source '(all)')
-- @range bins 1 10000
WITH base AS NOT MATERIALIZED (
    SELECT run_index, task, CASE WHEN $by_source THEN source ELSE '(all)' END AS source, score, score_order,
           value, model
    FROM scores
    WHERE $run IS NULL OR run_index = $run
), counts AS (
    SELECT run_index, task, source, score, score_order,
           CAST(least(greatest(floor(value * $bins::INTEGER), 0), $bins::INTEGER - 1) AS INTEGER) AS bin,
           count(*) AS rows
    FROM base GROUP BY ALL
), models AS (
    -- the model ids a score's rows carry, per run and task (a run has one per judge)
    SELECT run_index, task, score, string_agg(DISTINCT model, ', ' ORDER BY model) AS model
    FROM base GROUP BY ALL
)
SELECT r.run, n.task, n.source, n.score, m.model,
       n.bin, n.bin / $bins::INTEGER AS bin_lo, (n.bin + 1) / $bins::INTEGER AS bin_hi,
       n.rows,
       n.rows / sum(n.rows) OVER (PARTITION BY n.run_index, n.task, n.source, n.score) AS share
FROM counts n
JOIN runs r ON r.run_index = n.run_index
LEFT JOIN models m ON m.run_index = n.run_index AND m.task = n.task AND m.score = n.score
ORDER BY n.run_index, n.task, n.source NULLS LAST, n.score_order, n.bin
