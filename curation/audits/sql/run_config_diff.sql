-- Settings that differ between two runs (flattened manifest config keys, e.g.
-- thresholds.reward, vqa.model), plus run id and config hash.
-- @param run_a run 0  run A: index (default 0 = first folder given), run id or folder
-- @param run_b run 1  run B: index (default 1 = second folder given), run id or folder
WITH kv AS (
    SELECT run_index, key, value FROM run_config
    UNION ALL SELECT run_index, '(run id)', run FROM runs
    UNION ALL SELECT run_index, '(config hash)', config_hash FROM runs
), a AS (SELECT key, value FROM kv WHERE run_index = $run_a),
   b AS (SELECT key, value FROM kv WHERE run_index = $run_b)
SELECT coalesce(a.key, b.key) AS key, a.value AS value_a, b.value AS value_b
FROM a FULL OUTER JOIN b ON a.key = b.key
WHERE a.value IS DISTINCT FROM b.value
ORDER BY (coalesce(a.key, b.key) LIKE '(%') DESC, key
