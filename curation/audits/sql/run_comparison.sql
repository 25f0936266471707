-- What changed between two runs on the same inputs (e.g. other models or thresholds): rows
-- matched by sample_id, counted by task and (decision in run A -> decision in run B), with the
-- mean and largest score change B - A, and `modes_changed`: rows rejected in both runs with a
-- different set of failure modes (compared over the fixed vocabulary; the conservation audit
-- flags modes outside it). A row present in only one run shows '(absent)' on the other side.
-- See run_config_diff for the settings that differ and run_changed_rows for the rows.
-- @param run_a run 0  run A: index (default 0 = first folder given), run id or folder
-- @param run_b run 1  run B: index (default 1 = second folder given), run id or folder
WITH a AS (
    -- failure modes as a 4-bit set: list functions per row are slow, list_contains is not
    SELECT sample_id, task, decision, reward_score, vqa_score,
           list_contains(failure_modes, 'instruction_alignment')::INTEGER
           + 2 * list_contains(failure_modes, 'visual_artifacts')::INTEGER
           + 4 * list_contains(failure_modes, 'semantic_inconsistency')::INTEGER
           + 8 * list_contains(failure_modes, 'edit_noncompliance')::INTEGER AS modes
    FROM samples WHERE run_index = $run_a
), b AS (
    SELECT sample_id, task, decision, reward_score, vqa_score,
           list_contains(failure_modes, 'instruction_alignment')::INTEGER
           + 2 * list_contains(failure_modes, 'visual_artifacts')::INTEGER
           + 4 * list_contains(failure_modes, 'semantic_inconsistency')::INTEGER
           + 8 * list_contains(failure_modes, 'edit_noncompliance')::INTEGER AS modes
    FROM samples WHERE run_index = $run_b
), agg AS (
    SELECT coalesce(a.task, b.task) AS task,
           coalesce(a.decision, '(absent)') AS decision_a, coalesce(b.decision, '(absent)') AS decision_b,
           count(*) AS rows,
           count(*) FILTER (WHERE a.decision = 'reject' AND b.decision = 'reject' AND a.modes <> b.modes) AS modes_changed,
           avg(b.reward_score - a.reward_score) AS mean_reward_change,
           max(abs(b.reward_score - a.reward_score)) AS max_abs_reward_change,
           avg(b.vqa_score - a.vqa_score) AS mean_vqa_change,
           max(abs(b.vqa_score - a.vqa_score)) AS max_abs_vqa_change
    FROM a FULL OUTER JOIN b USING (sample_id)
    GROUP BY ALL
)
SELECT task, decision_a, decision_b, rows,
       rows / sum(rows) OVER (PARTITION BY task) AS share_of_task,
       modes_changed, mean_reward_change, max_abs_reward_change, mean_vqa_change, max_abs_vqa_change
FROM agg
ORDER BY task, decision_a, decision_b
