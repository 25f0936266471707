-- The lowest-scoring rejected samples tagged with one failure mode (metadata only; the HTML
-- report adds thumbnails). Ordered by the lowest score that stands for the mode (the judge
-- registry's: a sub-score's mode, VQAScore's mode on the row's task; e.g. instruction_alignment:
-- VQAScore on t2i / ImgReward alignment; visual_artifacts: ImgReward fidelity / EditReward
-- quality), falling back to the reward score, then VQAScore. Rows rejected by a cheap check (no
-- scores) come last.
-- @param mode str instruction_alignment  failure mode
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param limit int 12  rows shown
-- @choices mode instruction_alignment visual_artifacts semantic_inconsistency edit_noncompliance
-- @range limit 0 10000
WITH mode_scores AS (
    -- per row, the lowest score that stands for $mode (the `scores` view's `mode`)
    SELECT run_index, shard_file, sample_id, min(value) AS value
    FROM scores
    WHERE decision = 'reject' AND mode = $mode AND ($run IS NULL OR run_index = $run)
    GROUP BY ALL
)
SELECT s.run_index, s.run, s.sample_id, s.task, s.source, s.prompt, s.reward_score, s.vqa_score, s.failure_modes,
       s.shard_file, coalesce(m.value, s.reward_score, s.vqa_score) AS mode_score
FROM samples s
LEFT JOIN mode_scores m ON m.run_index = s.run_index AND m.shard_file = s.shard_file AND m.sample_id = s.sample_id
WHERE s.decision = 'reject' AND list_contains(s.failure_modes, $mode)
  AND ($run IS NULL OR s.run_index = $run)
ORDER BY mode_score ASC NULLS LAST, s.sample_id
LIMIT $limit
