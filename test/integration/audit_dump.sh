#!/usr/bin/env bash
# test/integration/audit_dump.sh: pg_dump keeps every audit entry, whether
# it sits in the extension's DEFAULT partition (config-dumped) or in a
# monthly partition made at run time by create_audit_partitions() (an
# ordinary table to pg_dump), and the redaction key; the restore recreates
# the partitions and their indexes without clashing with CREATE EXTENSION.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

PORT=55651

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tf-audit-dump.XXXXXX")
cleanup() {
	tf_stop_instance "$tmp"
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/server.log" ] && { echo "--- tail of server.log" >&2; tail -n 20 "$tmp/server.log" >&2; }
	exit 1
}
q() { tf_psql "$tmp" "$PORT" -d "$1" -At -F '|' -c "$2"; }

echo "== starting PostgreSQL on 127.0.0.1:$PORT"
tf_start_instance "$tmp" "$PORT" || fail "could not start PostgreSQL"
q postgres "CREATE DATABASE src" >/dev/null

echo "== src: a monthly partition, entries in it and in the default partition"
tf_psql "$tmp" "$PORT" -d src >/dev/null <<'SQL' || fail "setup of src"
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
SELECT taskforce.create_audit_partitions(1);
SELECT taskforce._audit_redaction_key();
-- Rows put directly, as the owner with row security off: this test is
-- about the dump, not the trigger.
ALTER TABLE taskforce.audit_log DISABLE ROW LEVEL SECURITY;
INSERT INTO taskforce.audit_log (logged_at, txid, entry_seq, statement_id, event_type,
        action, db_role, salts, leaf_hash)
VALUES (now(), 1, 1, 0, 'change', 'INSERT', 'x', '', '\x01'),
       ('2020-01-01', 2, 1, 0, 'change', 'INSERT', 'x', '', '\x02');
ALTER TABLE taskforce.audit_log ENABLE ROW LEVEL SECURITY;
SQL
before=$(q src "SELECT string_agg(tableoid::regclass || ':' || txid, ',' ORDER BY txid) FROM taskforce.audit_log")
key_before=$(q src "SELECT encode(key, 'hex') FROM taskforce.audit_redaction_key")

echo "== pg_dump and restore into dst"
pg_dump -h "$tmp" -p "$PORT" -U postgres -Fc -f "$tmp/src.dump" src 2>/dev/null || fail "pg_dump"
q postgres "CREATE DATABASE dst" >/dev/null
pg_restore -h "$tmp" -p "$PORT" -U postgres -d dst --exit-on-error "$tmp/src.dump" || fail "pg_restore"

after=$(q dst "SELECT string_agg(tableoid::regclass || ':' || txid, ',' ORDER BY txid) FROM taskforce.audit_log")
tf_check "entries in their partitions" "$before" "$after"
tf_check "redaction key kept" "$key_before" "$(q dst "SELECT encode(key, 'hex') FROM taskforce.audit_redaction_key")"
month=$(q dst "SELECT to_char(now() AT TIME ZONE 'UTC', 'YYYYMM')")
tf_check "indexes of the monthly partition" "audit_log_${month}_entry,audit_log_${month}_history" \
	"$(q dst "SELECT string_agg(indexrelid::regclass::text, ',' ORDER BY 1) FROM pg_index WHERE indrelid = 'taskforce.audit_log_$month'::regclass" | sed 's/taskforce\.//g')"
tf_check "row security on the restored log" "t|t" \
	"$(q dst "SELECT relrowsecurity, relforcerowsecurity FROM pg_class WHERE oid = 'taskforce.audit_log'::regclass")"
echo "audit dump: ok"
