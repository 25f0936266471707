-- Histogram of every score in [0, 1] (`bins` equal bins; empty bins are left out) by run, task,
-- source and score, with the model id the rows carry. Scores: `reward` (the task's reward model:
-- ImgReward on t2i, EditReward on edit), `vqa` (VQAScore) and each reward sub-score the run
-- recorded.
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param bins int 20  number of equal-width bins over [0, 1]
-- @param by_source bool true  split by source (false: source '(all)')
-- @range bins 1 10000
WITH base AS NOT MATERIALIZED (
    SELECT run_index, task, CASE WHEN $by_source THEN source ELSE '(all)' END AS source,
           reward_score, vqa_score, img_reward_alignment, img_reward_fidelity, img_reward_coherence,
           edit_reward_compliance, edit_reward_consistency, edit_reward_quality
    FROM samples
    WHERE $run IS NULL OR run_index = $run
), long AS (
    -- one narrow branch per score (integer score ids: cheap to group on)
    SELECT run_index, task, source, 1 AS score_id, reward_score AS value FROM base WHERE reward_score IS NOT NULL
    UNION ALL SELECT run_index, task, source, 2, vqa_score FROM base WHERE vqa_score IS NOT NULL
    UNION ALL SELECT run_index, task, source, 3, img_reward_alignment FROM base WHERE img_reward_alignment IS NOT NULL
    UNION ALL SELECT run_index, task, source, 4, img_reward_fidelity FROM base WHERE img_reward_fidelity IS NOT NULL
    UNION ALL SELECT run_index, task, source, 5, img_reward_coherence FROM base WHERE img_reward_coherence IS NOT NULL
    UNION ALL SELECT run_index, task, source, 6, edit_reward_compliance FROM base WHERE edit_reward_compliance IS NOT NULL
    UNION ALL SELECT run_index, task, source, 7, edit_reward_consistency FROM base WHERE edit_reward_consistency IS NOT NULL
    UNION ALL SELECT run_index, task, source, 8, edit_reward_quality FROM base WHERE edit_reward_quality IS NOT NULL
), counts AS (
    SELECT run_index, task, source, score_id,
           CAST(least(greatest(floor(value * $bins::INTEGER), 0), $bins::INTEGER - 1) AS INTEGER) AS bin,
           count(*) AS rows
    FROM long GROUP BY ALL
), models AS (
    SELECT run_index, task,
           string_agg(DISTINCT img_reward_model_id, ', ' ORDER BY img_reward_model_id) AS img,
           string_agg(DISTINCT edit_reward_model_id, ', ' ORDER BY edit_reward_model_id) AS edit,
           string_agg(DISTINCT vqa_model_id, ', ' ORDER BY vqa_model_id) AS vqa
    FROM samples WHERE $run IS NULL OR run_index = $run GROUP BY ALL
), named AS (
    SELECT c.*, ['reward', 'vqa', 'img_reward_alignment', 'img_reward_fidelity', 'img_reward_coherence',
                 'edit_reward_compliance', 'edit_reward_consistency', 'edit_reward_quality'][score_id] AS score
    FROM counts c
)
SELECT r.run, n.task, n.source, n.score,
       CASE WHEN n.score = 'vqa' THEN m.vqa
            WHEN n.score LIKE 'img_reward%' OR (n.score = 'reward' AND n.task = 't2i') THEN m.img
            WHEN n.score LIKE 'edit_reward%' OR (n.score = 'reward' AND n.task = 'edit') THEN m.edit END AS model,
       n.bin, n.bin / $bins::INTEGER AS bin_lo, (n.bin + 1) / $bins::INTEGER AS bin_hi,
       n.rows,
       n.rows / sum(n.rows) OVER (PARTITION BY n.run_index, n.task, n.source, n.score) AS share
FROM named n
JOIN runs r ON r.run_index = n.run_index
LEFT JOIN models m ON m.run_index = n.run_index AND m.task = n.task
ORDER BY n.run_index, n.task, n.source NULLS LAST, n.score_id, n.bin
