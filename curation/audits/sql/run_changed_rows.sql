-- Rows whose decision or set of failure modes differs between two runs, largest reward change
-- first (rows without a reward score on one side - errors, rows absent from a run - last):
-- sample id, task, decisions, scores and modes on both sides.
-- @param run_a run 0  run A: index (default 0 = first folder given), run id or folder
-- @param run_b run 1  run B: index (default 1 = second folder given), run id or folder
-- @param limit int 50  rows shown
-- @range limit 0 1000000
WITH a AS (
    -- failure modes as a 4-bit set for the comparison (see run_comparison)
    SELECT sample_id, task, decision, reward_score, vqa_score, failure_modes,
           list_contains(failure_modes, 'instruction_alignment')::INTEGER
           + 2 * list_contains(failure_modes, 'visual_artifacts')::INTEGER
           + 4 * list_contains(failure_modes, 'semantic_inconsistency')::INTEGER
           + 8 * list_contains(failure_modes, 'edit_noncompliance')::INTEGER AS modes
    FROM samples WHERE run_index = $run_a
), b AS (
    SELECT sample_id, task, decision, reward_score, vqa_score, failure_modes,
           list_contains(failure_modes, 'instruction_alignment')::INTEGER
           + 2 * list_contains(failure_modes, 'visual_artifacts')::INTEGER
           + 4 * list_contains(failure_modes, 'semantic_inconsistency')::INTEGER
           + 8 * list_contains(failure_modes, 'edit_noncompliance')::INTEGER AS modes
    FROM samples WHERE run_index = $run_b
)
SELECT sample_id, coalesce(a.task, b.task) AS task,
       coalesce(a.decision, '(absent)') AS decision_a, coalesce(b.decision, '(absent)') AS decision_b,
       a.reward_score AS reward_a, b.reward_score AS reward_b, a.vqa_score AS vqa_a, b.vqa_score AS vqa_b,
       a.failure_modes AS modes_a, b.failure_modes AS modes_b
FROM a FULL OUTER JOIN b USING (sample_id)
WHERE a.decision IS DISTINCT FROM b.decision OR a.modes IS DISTINCT FROM b.modes
ORDER BY (a.reward_score IS NULL OR b.reward_score IS NULL), abs(b.reward_score - a.reward_score) DESC, sample_id
LIMIT $limit
