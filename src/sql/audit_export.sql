-- src/sql/audit_export.sql: the export of the sealed audit trail for offline
-- verification (tools/audit-verify; the signed checkpoint it is checked
-- against comes from audit_log.sql). One JSON object per line and per
-- position, in position order, carrying the exact texts the leaf hash
-- commits to (docs/audit.md).

-- The committed values of one entry in canonical value order (side, then
-- column, bytewise), each with its salt or, once erased, its commitment.
CREATE FUNCTION taskforce._audit_export_values(e taskforce.audit_log) RETURNS json
LANGUAGE sql STABLE
AS $$
    SELECT coalesce(json_agg(json_build_array(v.side, v.col, v.value_text,
                    CASE WHEN v.value_text IS NULL THEN NULL
                         ELSE encode(substring(e.salts FROM 16 * (v.ord - 1)::integer + 1 FOR 16), 'hex') END,
                    v.commitment) ORDER BY v.ord), '[]'::json)
    FROM (
        SELECT u.side, u.col, u.value_text, u.commitment,
               row_number() OVER (ORDER BY u.side COLLATE "C", u.col COLLATE "C") AS ord
        FROM (
            SELECT 'old'::text AS side, k AS col, (e.old_values -> k)::text AS value_text, NULL::text AS commitment
            FROM jsonb_object_keys(coalesce(e.old_values, '{}')) AS k
            UNION ALL
            SELECT 'new', k, (e.new_values -> k)::text, NULL
            FROM jsonb_object_keys(coalesce(e.new_values, '{}')) AS k
            UNION ALL
            SELECT s.side, c.key, NULL, c.value #>> '{}'
            FROM (VALUES ('old'), ('new')) AS s(side),
                 jsonb_each(coalesce(e.erased -> s.side, '{}')) AS c
        ) AS u
    ) AS v
$$;
REVOKE ALL ON FUNCTION taskforce._audit_export_values(taskforce.audit_log) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._audit_export_values(taskforce.audit_log) IS
    'internal: the values array of an exported audit entry (side, column, value text, salt hex, commitment hex) in canonical value order';

CREATE FUNCTION taskforce.export_audit(from_position bigint DEFAULT 0, to_position bigint DEFAULT NULL)
RETURNS SETOF text
LANGUAGE plpgsql STABLE SECURITY DEFINER
SET search_path = pg_catalog, pg_temp
AS $$
BEGIN
    IF from_position IS NULL OR from_position < 0 OR to_position < from_position THEN
        RAISE EXCEPTION 'invalid position range % to %', from_position, to_position
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH pos AS (
        SELECT st.txid, p.position, (p.position - st.first_position + 1) AS rank
        FROM taskforce.audit_sealed_transactions AS st,
             generate_series(greatest(st.first_position, from_position),
                             least(st.first_position + st.entry_count - 1,
                                   coalesce(to_position, st.first_position + st.entry_count - 1))) AS p(position)
        WHERE st.first_position + st.entry_count > from_position
          AND (to_position IS NULL OR st.first_position <= to_position)
    ), ranked AS (
        SELECT e, row_number() OVER (PARTITION BY e.txid ORDER BY e.entry_seq) AS rank
        FROM taskforce.audit_log AS e
        WHERE e.txid IN (SELECT DISTINCT txid FROM pos)
    )
    SELECT CASE WHEN r.e IS NULL THEN
               json_build_object('position', pos.position, 'purged', true,
                   'leaf_hash', encode(substring(t.hashes FROM (pos.position % 256)::integer * 32 + 1 FOR 32), 'hex'))::text
           ELSE json_build_object(
               'position', pos.position,
               'tenant_id', (r.e).tenant_id,
               'logged_at', to_char((r.e).logged_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
               'txid', (r.e).txid::text,
               'entry_seq', (r.e).entry_seq,
               'statement_id', (r.e).statement_id,
               'event_type', (r.e).event_type,
               'object', (r.e).object,
               'row_key', (r.e).row_key,
               'action', (r.e).action,
               'user_id', (r.e).user_id,
               'roles', (r.e).roles,
               'auth_method', (r.e).auth_method,
               'db_role', (r.e).db_role,
               'client_addr', (r.e).client_addr,  -- inet_out text (no /32), as hashed
               'application_name', (r.e).application_name,
               'old_values', (r.e).old_values,
               'new_values', (r.e).new_values,
               'values', taskforce._audit_export_values(r.e),
               'leaf_hash', encode((r.e).leaf_hash, 'hex'))::text
           END
    FROM pos
    LEFT JOIN ranked AS r ON r.rank = pos.rank AND (r.e).txid = pos.txid
    LEFT JOIN taskforce.audit_tiles AS t ON t.level = 0 AND t.index = pos.position / 256
    ORDER BY pos.position;
END
$$;
REVOKE ALL ON FUNCTION taskforce.export_audit(bigint, bigint) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.export_audit(bigint, bigint) IS
    'the sealed audit trail from from_position to to_position (default: the end) as JSON lines in position order, for tools/audit-verify; purged positions give their leaf hash only';
