-- Conservation, per run folder: every input row is accounted for exactly once. Compares the
-- input index (.run/input_ids.pq: one row per INPUT row, before duplicate collapsing), the
-- manifest and the shards on disk. One row per check; `ok` is false where observed differs
-- from expected, `detail` names examples. Checks:
--   input_rows_indexed          input index rows = the manifest's planned input rows
--   output_rows                 shard rows = the manifest's expected rows (input rows minus later
--                               duplicate copies; distinct input ids without a manifest)
--   missing_input_ids           input ids with no output row
--   unexpected_output_ids       output ids that are not in the input
--   duplicate_output_ids        ids with more than one output row
--   duplicate_counts_match      output rows whose duplicate_count != the id's copies in the input
--   copies_add_up               sum(duplicate_count) = input rows
--   decisions_add_up            keep + reject + error = output rows
--   decisions_in_vocabulary     rows whose decision is not keep/reject/error
--   rejects_have_failure_modes  rejects without a failure mode
--   failure_modes_in_vocabulary rows with a mode outside the vocabulary
--   errors_have_messages        error rows without a message
--   kept_rows_meet_thresholds   kept rows below the run's reward or VQAScore threshold
--   partitions_finished         finished partitions = planned partitions
--   partition_row_counts        partitions whose shard rows != expected rows
--   shard_files_match_manifest  shard files on disk but not in the manifest, or the reverse
--   rows_from_this_run          rows whose run_id is not the folder's run id
-- @param run run null  run index (0 = first folder given), run id or folder; null = every run
-- @param id_hash_bits int 64  bits of the id hash used for grouping (lower it only to test the exact recount)
-- @range id_hash_bits 1 64
-- @check ok
WITH sel AS (
    SELECT * FROM runs WHERE $run IS NULL OR run_index = $run
), tagged AS NOT MATERIALIZED (
    -- every input row and every output row of the selected runs, with a 64-bit hash of the id
    SELECT run_index, sample_id, hash(sample_id) & m.mask AS h, true AS is_input, 1::UTINYINT AS i, NULL::BIGINT AS dc
    FROM input_ids, (SELECT CAST(CASE WHEN $id_hash_bits::INTEGER >= 64 THEN 18446744073709551615
                             ELSE (1::UBIGINT << $id_hash_bits::INTEGER) - 1 END AS UBIGINT) AS mask) m
    WHERE $run IS NULL OR run_index = $run
    UNION ALL
    SELECT run_index, sample_id, hash(sample_id) & m.mask, false, 0::UTINYINT, duplicate_count
    FROM samples, (SELECT CAST(CASE WHEN $id_hash_bits::INTEGER >= 64 THEN 18446744073709551615
                             ELSE (1::UBIGINT << $id_hash_bits::INTEGER) - 1 END AS UBIGINT) AS mask) m
    WHERE $run IS NULL OR run_index = $run
), by_hash AS (
    -- Input and output ids grouped together on the id's hash (grouping 20M strings is much
    -- slower). Two ids sharing a hash make their group look like a duplicated id, so it is
    -- re-counted exactly; only a missing id and an unexpected id sharing a hash (odds about
    -- missing x unexpected / 2^64) could cancel out unseen.
    -- (plain sums: the cheapest aggregates on 10M groups)
    SELECT run_index, h, sum(i) AS copies, count(*) - sum(i) AS n, sum(dc) AS dc_sum
    FROM tagged GROUP BY run_index, h
), hash_stats AS MATERIALIZED (
    -- Groups that break a rule (or hold two ids) are "suspect" and re-counted exactly on the id
    -- strings below; the others hold one id with one output row and duplicate_count = copies.
    SELECT run_index,
           coalesce(sum(copies) FILTER (WHERE NOT suspect), 0) AS input_rows,
           count(*) FILTER (WHERE NOT suspect) AS input_ids,
           list(h) FILTER (WHERE suspect) AS suspects
    FROM (SELECT *, copies = 0 OR n <> 1 OR dc_sum IS DISTINCT FROM copies AS suspect FROM by_hash)
    GROUP BY run_index
), exact AS (
    -- (DuckDB skips this scan when there is no suspect group: the join's build side is empty)
    SELECT t.run_index, t.sample_id,
           count(*) FILTER (WHERE t.is_input) AS copies, count(*) FILTER (WHERE NOT t.is_input) AS n,
           min(t.dc) AS dc_min, max(t.dc) AS dc_max
    FROM tagged t
    SEMI JOIN (SELECT run_index, unnest(suspects) AS h FROM hash_stats) s ON t.run_index = s.run_index AND t.h = s.h
    GROUP BY t.run_index, t.sample_id
), exact_stats AS (
    SELECT run_index,
           coalesce(sum(copies), 0) AS input_rows,
           count(*) FILTER (WHERE copies > 0) AS input_ids,
           count(*) FILTER (WHERE copies > 0 AND n = 0) AS missing,
           list(sample_id ORDER BY sample_id) FILTER (WHERE copies > 0 AND n = 0)[1:5] AS missing_ex,
           count(*) FILTER (WHERE copies = 0) AS unexpected,
           list(sample_id ORDER BY sample_id) FILTER (WHERE copies = 0)[1:5] AS unexpected_ex,
           count(*) FILTER (WHERE n > 1) AS dup_ids,
           list(sample_id || ' x' || n ORDER BY sample_id) FILTER (WHERE n > 1)[1:5] AS dup_ex,
           count(*) FILTER (WHERE copies > 0 AND n > 0
                            AND (dc_min IS DISTINCT FROM copies OR dc_max IS DISTINCT FROM copies)) AS dc_bad,
           list(sample_id || ': ' || coalesce(dc_max::VARCHAR, 'null') || ' vs ' || copies ORDER BY sample_id)
               FILTER (WHERE copies > 0 AND n > 0
                       AND (dc_min IS DISTINCT FROM copies OR dc_max IS DISTINCT FROM copies))[1:5] AS dc_ex
    FROM exact GROUP BY run_index
), id_stats AS (
    SELECT sel.run_index,
           coalesce(f.input_rows, 0) + coalesce(e.input_rows, 0) AS input_rows,
           coalesce(f.input_ids, 0) + coalesce(e.input_ids, 0) AS input_ids,
           e.missing, e.missing_ex, e.unexpected, e.unexpected_ex, e.dup_ids, e.dup_ex, e.dc_bad, e.dc_ex
    FROM sel LEFT JOIN hash_stats f USING (run_index) LEFT JOIN exact_stats e USING (run_index)
), row_groups AS MATERIALIZED (
    -- one pass over the rows, grouped on the few values the checks need (list checks on groups, not rows)
    SELECT s.run_index, s.input_partition, s.decision, s.failure_modes, s.run_id,
           s.decision = 'error' AND (s.error IS NULL OR trim(s.error) = '') AS no_message,
           s.decision = 'keep' AND (s.reward_score < r.reward_threshold OR s.vqa_score < r.vqa_threshold) AS keep_below,
           count(*) AS n, sum(s.duplicate_count) AS copies
    FROM samples s JOIN sel r ON s.run_index = r.run_index
    WHERE $run IS NULL OR s.run_index = $run
    GROUP BY ALL
), row_stats AS (
    SELECT g.run_index,
           sum(n) AS rows,
           coalesce(sum(n) FILTER (WHERE decision = 'keep'), 0) AS keep,
           coalesce(sum(n) FILTER (WHERE decision = 'reject'), 0) AS reject,
           coalesce(sum(n) FILTER (WHERE decision = 'error'), 0) AS error,
           coalesce(sum(n) FILTER (WHERE decision IS NULL OR decision NOT IN (SELECT decision FROM decision_vocab)), 0) AS bad_decision,
           coalesce(sum(copies), 0) AS copies,
           coalesce(sum(n) FILTER (WHERE decision = 'reject' AND len(coalesce(failure_modes, [])) = 0), 0) AS reject_no_mode,
           coalesce(sum(n) FILTER (WHERE NOT list_has_all((SELECT list(mode) FROM failure_mode_vocab),
                                                          coalesce(failure_modes, []))), 0) AS bad_mode,
           coalesce(sum(n) FILTER (WHERE no_message), 0) AS error_no_message,
           coalesce(sum(n) FILTER (WHERE keep_below), 0) AS keep_below,
           coalesce(sum(n) FILTER (WHERE run_id IS DISTINCT FROM r.run), 0) AS foreign_rows,
           list(DISTINCT coalesce(run_id, 'null')) FILTER (WHERE run_id IS DISTINCT FROM r.run)[1:3] AS foreign_ex
    FROM row_groups g JOIN sel r ON g.run_index = r.run_index
    GROUP BY g.run_index
), part_rows AS (
    SELECT run_index, input_partition, sum(n) AS rows FROM row_groups GROUP BY ALL
), part_stats AS (
    SELECT coalesce(p.run_index, o.run_index) AS run_index,
           count(*) FILTER (WHERE p.finished) AS finished,
           count(*) FILTER (WHERE p.run_index IS NOT NULL) AS planned,
           count(*) FILTER (WHERE coalesce(o.rows, 0) IS DISTINCT FROM p.expected_rows) AS bad_parts,
           list(coalesce(p.input_partition, o.input_partition) || ': ' || coalesce(o.rows, 0) || ' rows, expected '
                || coalesce(p.expected_rows::VARCHAR, 'none') ORDER BY coalesce(p.input_partition, o.input_partition))
               FILTER (WHERE coalesce(o.rows, 0) IS DISTINCT FROM p.expected_rows)[1:5] AS bad_parts_ex
    FROM (SELECT * FROM run_partitions WHERE $run IS NULL OR run_index = $run) p
    FULL OUTER JOIN part_rows o ON p.run_index = o.run_index AND p.input_partition = o.input_partition
    GROUP BY ALL
), file_stats AS (
    SELECT run_index,
           count(*) FILTER (WHERE listed <> on_disk) AS bad_files,
           list(CASE WHEN on_disk THEN 'not in manifest: ' ELSE 'missing: ' END || file ORDER BY file)
               FILTER (WHERE listed <> on_disk)[1:5] AS bad_files_ex
    FROM run_files WHERE $run IS NULL OR run_index = $run GROUP BY ALL
), stats AS (
    SELECT sel.run_index, sel.run, sel.run_dir, sel.input_rows AS m_input_rows, sel.expected_rows AS m_expected_rows,
           sel.has_input_ids, sel.has_manifest, sel.reward_threshold, sel.vqa_threshold,
           coalesce(i.input_rows, 0) AS input_rows, coalesce(i.input_ids, 0) AS input_ids, coalesce(i.missing, 0) AS missing, i.missing_ex,
           coalesce(i.unexpected, 0) AS unexpected, i.unexpected_ex,
           coalesce(i.dup_ids, 0) AS dup_ids, i.dup_ex, coalesce(i.dc_bad, 0) AS dc_bad, i.dc_ex,
           coalesce(r.rows, 0) AS rows, coalesce(r.keep, 0) AS keep, coalesce(r.reject, 0) AS reject,
           coalesce(r.error, 0) AS error, coalesce(r.bad_decision, 0) AS bad_decision, coalesce(r.copies, 0) AS copies,
           coalesce(r.reject_no_mode, 0) AS reject_no_mode, coalesce(r.bad_mode, 0) AS bad_mode,
           coalesce(r.error_no_message, 0) AS error_no_message, coalesce(r.keep_below, 0) AS keep_below,
           coalesce(r.foreign_rows, 0) AS foreign_rows, r.foreign_ex,
           coalesce(ps.finished, 0) AS finished, coalesce(ps.planned, 0) AS planned,
           coalesce(ps.bad_parts, 0) AS bad_parts, ps.bad_parts_ex,
           coalesce(fs.bad_files, 0) AS bad_files, fs.bad_files_ex
    FROM sel
    LEFT JOIN id_stats i USING (run_index)
    LEFT JOIN row_stats r USING (run_index)
    LEFT JOIN part_stats ps USING (run_index)
    LEFT JOIN file_stats fs USING (run_index)
), checks AS (
    SELECT run_index, run, run_dir, u.c, u.i
    FROM stats, unnest([
        {'check': 'input_rows_indexed', 'observed': (input_rows)::BIGINT, 'expected': (m_input_rows)::BIGINT,
         'detail': CASE WHEN NOT has_input_ids THEN 'no input-id index (.run/input_ids.pq)' WHEN NOT has_manifest THEN 'no manifest (.run/manifest.json)' END},
        {'check': 'output_rows', 'observed': (rows)::BIGINT, 'expected': (coalesce(m_expected_rows, input_ids))::BIGINT,
         'detail': NULL},
        {'check': 'missing_input_ids', 'observed': (missing)::BIGINT, 'expected': (0)::BIGINT, 'detail': array_to_string(missing_ex, ', ')},
        {'check': 'unexpected_output_ids', 'observed': (unexpected)::BIGINT, 'expected': (0)::BIGINT, 'detail': array_to_string(unexpected_ex, ', ')},
        {'check': 'duplicate_output_ids', 'observed': (dup_ids)::BIGINT, 'expected': (0)::BIGINT, 'detail': array_to_string(dup_ex, ', ')},
        {'check': 'duplicate_counts_match', 'observed': (dc_bad)::BIGINT, 'expected': (0)::BIGINT, 'detail': array_to_string(dc_ex, ', ')},
        {'check': 'copies_add_up', 'observed': (copies)::BIGINT, 'expected': (input_rows)::BIGINT, 'detail': 'sum(duplicate_count) vs input rows'},
        {'check': 'decisions_add_up', 'observed': (keep + reject + error)::BIGINT, 'expected': (rows)::BIGINT,
         'detail': 'keep=' || keep || ' reject=' || reject || ' error=' || error},
        {'check': 'decisions_in_vocabulary', 'observed': (bad_decision)::BIGINT, 'expected': (0)::BIGINT, 'detail': NULL},
        {'check': 'rejects_have_failure_modes', 'observed': (reject_no_mode)::BIGINT, 'expected': (0)::BIGINT, 'detail': NULL},
        {'check': 'failure_modes_in_vocabulary', 'observed': (bad_mode)::BIGINT, 'expected': (0)::BIGINT, 'detail': NULL},
        {'check': 'errors_have_messages', 'observed': (error_no_message)::BIGINT, 'expected': (0)::BIGINT, 'detail': NULL},
        {'check': 'kept_rows_meet_thresholds', 'observed': (keep_below)::BIGINT, 'expected': (0)::BIGINT,
         'detail': 'reward >= ' || coalesce(reward_threshold::VARCHAR, '?') || ', vqa >= ' || coalesce(vqa_threshold::VARCHAR, '?')},
        {'check': 'partitions_finished', 'observed': (finished)::BIGINT, 'expected': (planned)::BIGINT, 'detail': NULL},
        {'check': 'partition_row_counts', 'observed': (bad_parts)::BIGINT, 'expected': (0)::BIGINT, 'detail': array_to_string(bad_parts_ex, '; ')},
        {'check': 'shard_files_match_manifest', 'observed': (bad_files)::BIGINT, 'expected': (0)::BIGINT, 'detail': array_to_string(bad_files_ex, '; ')},
        {'check': 'rows_from_this_run', 'observed': (foreign_rows)::BIGINT, 'expected': (0)::BIGINT, 'detail': array_to_string(foreign_ex, ', ')}
    ]) WITH ORDINALITY AS u(c, i)
)
SELECT run, c['check'] AS "check", c.observed IS NOT DISTINCT FROM c.expected AS ok,
       c.observed AS observed, c.expected AS expected, c.detail AS detail
FROM checks
ORDER BY run_index, i
