-- Distribution summary of every score by run, task, source and model: count, mean, standard
-- deviation, min, exact quantiles (5/25/50/75/95 %, linear interpolation) and max. Scores as in
-- score_histogram. `model` is the model id the rows carry (several are joined with ', ').
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param by_source bool true  split by source (false: source '(all)')
WITH agg AS MATERIALIZED (
    -- one pass: every score's aggregates side by side per group, unpivoted below (few rows)
    SELECT run_index, task, CASE WHEN $by_source THEN source ELSE '(all)' END AS source,
           {'n': count(reward_score), 'mean': avg(reward_score), 'std': stddev_samp(reward_score), 'min': min(reward_score), 'max': max(reward_score), 'q': quantile_cont(reward_score, [0.05, 0.25, 0.5, 0.75, 0.95])} AS reward,
           {'n': count(vqa_score), 'mean': avg(vqa_score), 'std': stddev_samp(vqa_score), 'min': min(vqa_score), 'max': max(vqa_score), 'q': quantile_cont(vqa_score, [0.05, 0.25, 0.5, 0.75, 0.95])} AS vqa,
           {'n': count(img_reward_alignment), 'mean': avg(img_reward_alignment), 'std': stddev_samp(img_reward_alignment), 'min': min(img_reward_alignment), 'max': max(img_reward_alignment), 'q': quantile_cont(img_reward_alignment, [0.05, 0.25, 0.5, 0.75, 0.95])} AS img_reward_alignment,
           {'n': count(img_reward_fidelity), 'mean': avg(img_reward_fidelity), 'std': stddev_samp(img_reward_fidelity), 'min': min(img_reward_fidelity), 'max': max(img_reward_fidelity), 'q': quantile_cont(img_reward_fidelity, [0.05, 0.25, 0.5, 0.75, 0.95])} AS img_reward_fidelity,
           {'n': count(img_reward_coherence), 'mean': avg(img_reward_coherence), 'std': stddev_samp(img_reward_coherence), 'min': min(img_reward_coherence), 'max': max(img_reward_coherence), 'q': quantile_cont(img_reward_coherence, [0.05, 0.25, 0.5, 0.75, 0.95])} AS img_reward_coherence,
           {'n': count(edit_reward_compliance), 'mean': avg(edit_reward_compliance), 'std': stddev_samp(edit_reward_compliance), 'min': min(edit_reward_compliance), 'max': max(edit_reward_compliance), 'q': quantile_cont(edit_reward_compliance, [0.05, 0.25, 0.5, 0.75, 0.95])} AS edit_reward_compliance,
           {'n': count(edit_reward_consistency), 'mean': avg(edit_reward_consistency), 'std': stddev_samp(edit_reward_consistency), 'min': min(edit_reward_consistency), 'max': max(edit_reward_consistency), 'q': quantile_cont(edit_reward_consistency, [0.05, 0.25, 0.5, 0.75, 0.95])} AS edit_reward_consistency,
           {'n': count(edit_reward_quality), 'mean': avg(edit_reward_quality), 'std': stddev_samp(edit_reward_quality), 'min': min(edit_reward_quality), 'max': max(edit_reward_quality), 'q': quantile_cont(edit_reward_quality, [0.05, 0.25, 0.5, 0.75, 0.95])} AS edit_reward_quality
    FROM samples
    WHERE $run IS NULL OR run_index = $run
    GROUP BY ALL
), long AS (
    UNPIVOT agg ON reward, vqa, img_reward_alignment, img_reward_fidelity, img_reward_coherence,
                   edit_reward_compliance, edit_reward_consistency, edit_reward_quality
    INTO NAME score VALUE s
), models AS (
    -- model ids per run and task (a run has one per stage; a cheap separate pass)
    SELECT run_index, task,
           string_agg(DISTINCT img_reward_model_id, ', ' ORDER BY img_reward_model_id) AS img,
           string_agg(DISTINCT edit_reward_model_id, ', ' ORDER BY edit_reward_model_id) AS edit,
           string_agg(DISTINCT vqa_model_id, ', ' ORDER BY vqa_model_id) AS vqa
    FROM samples WHERE $run IS NULL OR run_index = $run GROUP BY ALL
)
SELECT r.run, l.task, l.source, l.score,
       CASE WHEN l.score = 'vqa' THEN m.vqa
            WHEN l.score LIKE 'img_reward%' OR (l.score = 'reward' AND l.task = 't2i') THEN m.img
            WHEN l.score LIKE 'edit_reward%' OR (l.score = 'reward' AND l.task = 'edit') THEN m.edit END AS model,
       l.s.n AS n, l.s.mean AS mean, l.s.std AS std, l.s.min AS min,
       l.s.q[1] AS p05, l.s.q[2] AS p25, l.s.q[3] AS p50, l.s.q[4] AS p75, l.s.q[5] AS p95, l.s.max AS max
FROM long l
JOIN runs r ON r.run_index = l.run_index
LEFT JOIN models m ON m.run_index = l.run_index AND m.task = l.task
WHERE l.s.n > 0
ORDER BY l.run_index, l.task, l.source NULLS LAST,
         list_position(['reward', 'vqa', 'img_reward_alignment', 'img_reward_fidelity', 'img_reward_coherence',
                        'edit_reward_compliance', 'edit_reward_consistency', 'edit_reward_quality'], l.score)
