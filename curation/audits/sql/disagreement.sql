-- Rows where the reward model and VQAScore disagree most: the `limit` rows per run and task
-- with the largest |reward_score - vqa_score| (direction 'any'), or the largest
-- reward_score - vqa_score ('reward_high': the reward model likes what VQAScore doubts) or
-- vqa_score - reward_score ('vqa_high'). Both scores are probabilities in [0, 1].
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param limit int 20  rows per run and task
-- @param direction str any  any | reward_high | vqa_high
-- @param prompt_chars int 120  prompt characters shown
-- @range limit 0 1000000
-- @choices direction any reward_high vqa_high
-- @range prompt_chars 0 100000
WITH gaps AS (
    SELECT run_index, run, task, sample_id, reward_score - vqa_score AS gap,
           CASE $direction WHEN 'reward_high' THEN reward_score - vqa_score
                           WHEN 'vqa_high' THEN vqa_score - reward_score
                           ELSE abs(reward_score - vqa_score) END AS key
    FROM samples
    WHERE reward_score IS NOT NULL AND vqa_score IS NOT NULL
      AND ($run IS NULL OR run_index = $run)
), top AS (
    -- top-N per group as an aggregate: no sort of the whole table
    SELECT run_index, run, task, unnest(top) AS t
    FROM (SELECT run_index, run, task, max_by({'sample_id': sample_id, 'gap': gap, 'key': key}, key, $limit::BIGINT) AS top
          FROM gaps GROUP BY run_index, run, task)
)
SELECT t.run, t.task, t.t.sample_id AS sample_id, s.source, s.decision,
       s.reward_score, s.vqa_score, t.t.gap AS gap, s.failure_modes,
       left(s.prompt, $prompt_chars::BIGINT) AS prompt
FROM top t
JOIN samples s ON s.run_index = t.run_index AND s.sample_id = t.t.sample_id
ORDER BY t.run, t.task, t.t.key DESC, sample_id
