#!/usr/bin/env bash
# test/bench/audit_log.sh: the Merkle log's costs at BENCH_ENTRIES entries.
#
#   bash test/bench/audit_log.sh
#
# Starts a throwaway PostgreSQL 15 instance (port 55604, removed on exit),
# puts BENCH_ENTRIES (1,000,000) audit entries in 500 transactions directly
# (leaf hashes from taskforce._audit_leaf_hash), then times, as superuser:
#   - seal_audit() of all of them (entries/s), and of 100 more
#   - verify_audit() (entries/s) against a plain count(*) scan and a scan
#     recomputing every leaf through SQL, and verify's ratio to the plain scan
#   - audit_inclusion_proof() and audit_consistency_proof() on random
#     positions (BENCH_PROOFS calls each, mean ms per call)
# Settings: BENCH_ENTRIES, BENCH_PROOFS (1000), BENCH_PORT (55604).
set -euo pipefail

bench_dir=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR
. "$bench_dir/common.sh"
bench_reexec_unprivileged "$0" "$@"

entries=${BENCH_ENTRIES:-1000000}
proofs=${BENCH_PROOFS:-1000}
port=${BENCH_PORT:-55604}

bench_start_instance audit_log "$port" "shared_buffers = 512MB" "work_mem = 64MB"

echo "== putting $entries entries"
tf_psql "$dir" "$port" -d bench -v n="$entries" <<'SQL' >/dev/null
CREATE EXTENSION taskforce CASCADE;
SET session_replication_role = replica;
-- txids 3 .. 502: below any snapshot's xmin of this fresh cluster
INSERT INTO taskforce.audit_log (tenant_id, logged_at, txid, entry_seq, statement_id, event_type,
        object, row_key, action, db_role, new_values, salts, leaf_hash)
SELECT 't1', now(), 3 + g % 500, g / 500 + 1, 0, 'change', 'public.t',
       jsonb_build_object('id', g)::text, 'INSERT', 'bench', jsonb_build_object('v', g),
       taskforce._random_bytes(16), '\x00'
  FROM generate_series(0, :n - 1) AS g;
UPDATE taskforce.audit_log AS e SET leaf_hash = taskforce._audit_leaf_hash(e);
VACUUM ANALYZE taskforce.audit_log;
SQL

echo "== timing"
tf_psql "$dir" "$port" -d bench -v proofs="$proofs" -P border=2 <<'SQL'
CREATE FUNCTION pg_temp.ms(q text) RETURNS numeric LANGUAGE plpgsql AS $$
DECLARE t timestamptz := clock_timestamp();
BEGIN EXECUTE q; RETURN round(extract(epoch FROM clock_timestamp() - t)::numeric * 1000, 1); END $$;
CREATE TEMP TABLE r (what text, ms numeric, per_s numeric);
INSERT INTO r SELECT 'seal_audit(), all entries', m, round(n / m * 1000)
  FROM (SELECT pg_temp.ms('SELECT taskforce.seal_audit()') AS m,
               (SELECT count(*) FROM taskforce.audit_log) AS n) AS x;
SELECT * FROM taskforce.audit_log_state;
-- 100 more entries in one later transaction, then a seal of them
SET session_replication_role = replica;
INSERT INTO taskforce.audit_log (tenant_id, logged_at, txid, entry_seq, statement_id, event_type,
        object, row_key, action, db_role, new_values, salts, leaf_hash)
SELECT 't1', now(), pg_current_xact_id()::text::bigint, g, 0, 'change', 'public.t', '{}', 'INSERT', 'bench',
       jsonb_build_object('v', g), taskforce._random_bytes(16), '\x00'
  FROM generate_series(1, 100) AS g;
UPDATE taskforce.audit_log AS e SET leaf_hash = taskforce._audit_leaf_hash(e) WHERE txid > 502;
RESET session_replication_role;
INSERT INTO r SELECT 'seal_audit(), 100 more entries', m, round(100 / m * 1000)
  FROM (SELECT pg_temp.ms('SELECT taskforce.seal_audit()') AS m) AS x;
INSERT INTO r SELECT 'verify_audit()', m, round(n / m * 1000)
  FROM (SELECT pg_temp.ms('SELECT count(*) FROM taskforce.verify_audit()') AS m,
               (SELECT tree_size FROM taskforce.audit_log_state) AS n) AS x;
INSERT INTO r SELECT 'plain scan: count(*) of audit_log', m, round(n / m * 1000)
  FROM (SELECT pg_temp.ms('SELECT count(*) FROM taskforce.audit_log') AS m,
               (SELECT tree_size FROM taskforce.audit_log_state) AS n) AS x;
INSERT INTO r SELECT 'scan recomputing every leaf', m, round(n / m * 1000)
  FROM (SELECT pg_temp.ms('SELECT count(taskforce._audit_leaf_hash(e)) FROM taskforce.audit_log AS e') AS m,
               (SELECT tree_size FROM taskforce.audit_log_state) AS n) AS x;
INSERT INTO r SELECT 'audit_inclusion_proof(), per call', round(m / :proofs, 3), round(:proofs / m * 1000)
  FROM (SELECT pg_temp.ms(format('SELECT count(taskforce.audit_inclusion_proof((random() * (s - 1))::bigint))
                                    FROM generate_series(1, %s), (SELECT tree_size AS s FROM taskforce.audit_log_state) AS x',
                                 :proofs)) AS m) AS x;
INSERT INTO r SELECT 'audit_consistency_proof(), per call', round(m / :proofs, 3), round(:proofs / m * 1000)
  FROM (SELECT pg_temp.ms(format('SELECT count(taskforce.audit_consistency_proof(1 + (random() * (s - 2))::bigint))
                                    FROM generate_series(1, %s), (SELECT tree_size AS s FROM taskforce.audit_log_state) AS x',
                                 :proofs)) AS m) AS x;
SELECT * FROM r;
-- verification next to the plain scan it cannot beat (issue 9: >= 500k entries/s)
SELECT v.per_s AS verify_entries_per_s, p.per_s AS plain_scan_entries_per_s,
       round(v.per_s / p.per_s, 3) AS ratio, v.per_s >= 500000 AS meets_500k
  FROM r AS v, r AS p WHERE v.what = 'verify_audit()' AND p.what = 'plain scan: count(*) of audit_log';
SELECT * FROM taskforce.verify_audit();
SQL
