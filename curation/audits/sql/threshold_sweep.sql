-- Rows kept at each reward threshold (reward_min..reward_max by reward_step) and each VQAScore
-- threshold (vqa_min..vqa_max by vqa_step), by run and task (task '(all)' sums the tasks), from
-- the stored scores with the job's keep rule: reward_score >= reward threshold AND
-- vqa_score >= VQAScore threshold. `scored` is the run/task's keep + reject rows; rows rejected by
-- a cheap check (no scores) are never kept; a stage with no scores at all in a run/task (disabled)
-- does not filter. `is_run_setting` marks the run's own thresholds, where `kept` equals the
-- number of keep rows; `kept_vs_run_setting` is kept minus that, i.e. what moving costs or gains.
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param reward_min float 0.5  lowest reward threshold
-- @param reward_max float 0.99  highest reward threshold
-- @param reward_step float 0.01  reward threshold step
-- @param vqa_min float 0.0  lowest VQAScore threshold
-- @param vqa_max float 0.9  highest VQAScore threshold
-- @param vqa_step float 0.1  VQAScore threshold step
-- @range reward_min 0 1
-- @range reward_max 0 1
-- @range reward_step 0.001 1
-- @range vqa_min 0 1
-- @range vqa_max 0 1
-- @range vqa_step 0.001 1
-- @order reward_min reward_max
-- @order vqa_min vqa_max
WITH p AS (
    SELECT $reward_min::DOUBLE AS rmin, $reward_step::DOUBLE AS rstep,
           CAST(floor(($reward_max::DOUBLE - $reward_min::DOUBLE) / $reward_step::DOUBLE + 1e-9) AS BIGINT) + 1 AS nr,
           $vqa_min::DOUBLE AS vmin, $vqa_step::DOUBLE AS vstep,
           CAST(floor(($vqa_max::DOUBLE - $vqa_min::DOUBLE) / $vqa_step::DOUBLE + 1e-9) AS BIGINT) + 1 AS nv
), grid_r AS (
    SELECT i AS ri, round(rmin + i * rstep, 6) AS reward_threshold FROM p, range(0, p.nr) t(i)
), grid_v AS (
    SELECT i AS vi, round(vmin + i * vstep, 6) AS vqa_threshold FROM p, range(0, p.nv) t(i)
), idx AS (
    -- Per row, the index of the highest grid threshold its score passes: arithmetic, then
    -- corrected by one step so that score >= round(min + i * step, 6) holds exactly, as in the
    -- job's decision. NULL where the row has no such score.
    SELECT run_index, task, r, v,
           CASE WHEN round(p.rmin + (kr0 + 1) * p.rstep, 6) <= r THEN kr0 + 1
                WHEN round(p.rmin + kr0 * p.rstep, 6) > r THEN kr0 - 1 ELSE kr0 END AS kr1,
           CASE WHEN round(p.vmin + (kv0 + 1) * p.vstep, 6) <= v THEN kv0 + 1
                WHEN round(p.vmin + kv0 * p.vstep, 6) > v THEN kv0 - 1 ELSE kv0 END AS kv1
    FROM (SELECT run_index, task, reward_score AS r, vqa_score AS v,
                 CAST(floor((reward_score - p.rmin) / p.rstep) AS BIGINT) AS kr0,
                 CAST(floor((vqa_score - p.vmin) / p.vstep) AS BIGINT) AS kv0
          FROM samples, p
          WHERE decision IN ('keep', 'reject') AND ($run IS NULL OR run_index = $run)), p
), cells AS (
    -- one pass over the rows: counts per (run, task, reward index, VQAScore index)
    SELECT run_index, task,
           CASE WHEN r IS NULL THEN NULL ELSE greatest(-1, least(p.nr - 1, kr1)) END AS kr,
           CASE WHEN v IS NULL THEN NULL ELSE greatest(-1, least(p.nv - 1, kv1)) END AS kv,
           count(*) AS n
    FROM idx, p GROUP BY ALL
), stage_on AS (
    SELECT run_index, task, bool_or(kr IS NOT NULL) AS r_on, bool_or(kv IS NOT NULL) AS v_on FROM cells GROUP BY ALL
), cells2 AS (
    -- a missing score fails its check, unless the stage has no score at all in the run/task
    -- (disabled); a row with neither score (rejected by a cheap check) is never kept
    SELECT c.run_index, c.task,
           CASE WHEN c.kr IS NULL AND c.kv IS NULL THEN -1
                WHEN c.kr IS NULL THEN CASE WHEN s.r_on THEN -1 ELSE p.nr - 1 END ELSE c.kr END AS kr,
           CASE WHEN c.kr IS NULL AND c.kv IS NULL THEN -1
                WHEN c.kv IS NULL THEN CASE WHEN s.v_on THEN -1 ELSE p.nv - 1 END ELSE c.kv END AS kv,
           c.n
    FROM cells c JOIN stage_on s ON s.run_index = c.run_index AND s.task = c.task, p
), all_cells AS (
    SELECT run_index, task, kr, kv, n FROM cells2
    UNION ALL
    SELECT run_index, '(all)', kr, kv, n FROM cells2
), sweep AS (
    SELECT c.run_index, c.task, g.reward_threshold, h.vqa_threshold,
           sum(c.n) AS scored,
           coalesce(sum(c.n) FILTER (WHERE c.kr >= g.ri AND c.kv >= h.vi), 0) AS kept
    FROM all_cells c, grid_r g, grid_v h
    GROUP BY ALL
), current AS (
    SELECT s.run_index, s.task, s.kept AS kept_at_run_setting
    FROM sweep s JOIN runs r ON r.run_index = s.run_index
    WHERE s.reward_threshold = r.reward_threshold AND s.vqa_threshold = r.vqa_threshold
)
SELECT r.run, s.task, s.reward_threshold, s.vqa_threshold, s.scored::BIGINT AS scored, s.kept::BIGINT AS kept,
       s.kept / s.scored AS kept_share,
       coalesce(s.reward_threshold = r.reward_threshold AND s.vqa_threshold = r.vqa_threshold, false) AS is_run_setting,
       (s.kept - c.kept_at_run_setting)::BIGINT AS kept_vs_run_setting
FROM sweep s
JOIN runs r ON r.run_index = s.run_index
LEFT JOIN current c ON c.run_index = s.run_index AND c.task = s.task
ORDER BY s.run_index, s.task, s.vqa_threshold, s.reward_threshold
