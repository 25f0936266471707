-- The lowest-scoring rejected samples tagged with one failure mode (metadata only; the HTML
-- report adds thumbnails). Ordered by the score that stands for the mode, lowest first:
-- instruction_alignment: VQAScore on t2i / ImgReward alignment; edit_noncompliance: VQAScore on
-- edits / EditReward compliance; visual_artifacts: ImgReward fidelity / EditReward quality;
-- semantic_inconsistency: ImgReward coherence / EditReward consistency; falling back to the
-- reward score, then VQAScore. Rows rejected by a cheap check (no scores) come last.
-- @param mode str instruction_alignment  failure mode
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param limit int 12  rows shown
-- @choices mode instruction_alignment visual_artifacts semantic_inconsistency edit_noncompliance
-- @range limit 0 10000
SELECT run_index, run, sample_id, task, source, prompt, reward_score, vqa_score, failure_modes, shard_file,
       coalesce(CASE $mode
                  WHEN 'instruction_alignment' THEN least(CASE WHEN task = 't2i' THEN vqa_score END, img_reward_alignment)
                  WHEN 'edit_noncompliance' THEN least(CASE WHEN task = 'edit' THEN vqa_score END, edit_reward_compliance)
                  WHEN 'visual_artifacts' THEN least(img_reward_fidelity, edit_reward_quality)
                  WHEN 'semantic_inconsistency' THEN least(img_reward_coherence, edit_reward_consistency)
                END, reward_score, vqa_score) AS mode_score
FROM samples
WHERE decision = 'reject' AND list_contains(failure_modes, $mode)
  AND ($run IS NULL OR run_index = $run)
ORDER BY mode_score ASC NULLS LAST, sample_id
LIMIT $limit
