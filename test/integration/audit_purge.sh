#!/usr/bin/env bash
# test/integration/audit_purge.sh: retention end to end.  Old entries (a
# partition of their own and rows in the default partition) and a real
# audited workload are sealed; purge_audit removes the old ones; the log
# verifies in the database and, exported, offline with tools/audit-verify
# once the purge entry is sealed; an entry deleted behind the trail's back
# after the purge is found by both.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

here=$(cd "$(dirname "$0")/../.." && pwd)
tool="$here/tools/audit-verify"
dir=$(mktemp -d)
port=55627
trap 'tf_stop_instance "$dir"; rm -rf "$dir"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}
sql() { tf_psql "$dir" "$port" -d postgres -X -At -v ON_ERROR_STOP=1 "$@"; }
export_all() {
	sql -c "SELECT * FROM taskforce.export_audit()" >"$dir/trail.jsonl"
	sql -c "SELECT taskforce.audit_checkpoint()" >"$dir/cp.note"
	sql -c "SELECT taskforce.audit_public_key()" >"$dir/vkey"
}

tf_start_instance "$dir" "$port"
# Entries of December 2019 (their partition) and January 2020 (the default
# partition), one transaction each, written as the trail writes them, first:
# positions follow transaction ids, so they precede every later entry.
sql >/dev/null <<'SQL'
CREATE EXTENSION taskforce CASCADE;
CREATE TABLE taskforce.audit_log_201912 PARTITION OF taskforce.audit_log
    FOR VALUES FROM ('2019-12-01 00:00+00') TO ('2020-01-01 00:00+00');
SQL
for at in '2019-12-05' '2019-12-20' '2020-01-15'; do
	sql >/dev/null <<SQL
BEGIN;
SET LOCAL session_replication_role = replica;
INSERT INTO taskforce.audit_log (tenant_id, logged_at, txid, entry_seq, statement_id, event_type,
        object, row_key, action, db_role, new_values, salts, leaf_hash)
SELECT 'acme', '$at 10:00+00', pg_current_xact_id()::text::bigint, i, 0, 'change', 'public.orders',
       jsonb_build_object('id', i)::text, 'INSERT', current_user, jsonb_build_object('item', 'old ' || i),
       taskforce._random_bytes(16), '\x00'
  FROM generate_series(1, 4) AS i;
UPDATE taskforce.audit_log AS e SET leaf_hash = taskforce._audit_leaf_hash(e)
 WHERE e.txid = pg_current_xact_id()::text::bigint;
COMMIT;
SQL
done
sql >/dev/null <<'SQL'
SELECT taskforce.setup_roles();
CREATE ROLE app_user LOGIN IN ROLE taskforce_app;
CREATE ROLE ops LOGIN IN ROLE taskforce_admin;
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme');
CREATE TABLE public.orders (id int PRIMARY KEY, tenant_id text NOT NULL DEFAULT taskforce.current_tenant(), item text);
SELECT taskforce.enable_tenant_isolation('public.orders');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders TO taskforce_app;
SELECT taskforce.enable_audit('public.orders');
SQL
# A workload now, by an application user.
sql >/dev/null <<'SQL'
BEGIN;
SELECT taskforce.act_as('acme', 'alice');
SET LOCAL ROLE app_user;
INSERT INTO public.orders (id, item) SELECT g, 'item ' || g FROM generate_series(1, 3) g;
DELETE FROM public.orders WHERE id = 2;
COMMIT;
SQL
sql -c "SELECT taskforce.seal_audit()" >/dev/null
export_all
cp "$dir/cp.note" "$dir/cp_before.note"
"$tool" -q "$dir/trail.jsonl" "$dir/cp.note" "$dir/vkey" || fail "export before the purge"
size_before=$(sql -c "SELECT tree_size FROM taskforce.audit_log_state")

# The purge, by an administrator (a login role of purpose admin).
out=$(tf_psql "$dir" "$port" -d postgres -U ops -X -At -v ON_ERROR_STOP=1 \
	-c "SELECT purged_size, entries_removed, partitions_dropped FROM taskforce.purge_audit('2020-02-01')")
first_kept=$(sql -c "SELECT min(first_position) FROM taskforce.audit_sealed_transactions WHERE logged_at >= '2020-02-01'")
tf_check "purge_audit removes the 12 old entries and drops December" \
	"12|12|{taskforce.audit_log_201912}" "$out"
tf_check "the default partition has no January entry left" "0" \
	"$(sql -c "SELECT count(*) FROM taskforce.audit_log WHERE logged_at < '2020-02-01'")"
tf_check "verify_audit does not trust the purge before its entry is sealed" "changed" \
	"$(sql -c "SELECT kind FROM taskforce.verify_audit()")"

# Offline: before the purge entry is sealed, the export's missing entries
# are unexplained; once it is sealed, the export verifies.
export_all
set +e
out=$("$tool" "$dir/trail.jsonl" "$dir/cp.note" "$dir/vkey")
status=$?
set -e
tf_check "an unsealed purge entry does not vouch for the purge" "1" "$status"
grep <<<"$out" -q "TAMPERED: .*deleted" || fail "expected deleted, got: $out"
sql -c "SELECT taskforce.seal_audit()" >/dev/null
tf_check "verify_audit is ok once the purge entry is sealed" "ok" "$(sql -c "SELECT kind FROM taskforce.verify_audit()")"
tf_check "the checkpoint from before the purge is still a prefix" "ok" \
	"$(sql -v cp="$(cat "$dir/cp_before.note")" <<<"SELECT kind FROM taskforce.verify_audit(:'cp' || E'\\n')")"
export_all
tf_check "the export names the purged positions" "$first_kept" \
	"$(grep -c '"purged" *: *true' "$dir/trail.jsonl")"
out=$("$tool" "$dir/trail.jsonl" "$dir/cp.note" "$dir/vkey") || fail "export after the purge: $out"
echo "$out"
sql -c "SELECT taskforce.audit_consistency_proof($size_before)" >"$dir/cproof"
"$tool" -q "$dir/trail.jsonl" "$dir/cp.note" "$dir/vkey" --old-checkpoint "$dir/cp_before.note" \
	--consistency-proof "$dir/cproof" || fail "consistency with the checkpoint before the purge"

# A kept entry deleted behind the trail's back: found by both.
sql >/dev/null <<'SQL'
SET session_replication_role = replica;
DELETE FROM taskforce.audit_log WHERE object = 'public.orders' AND action = 'DELETE';
SQL
tf_check "verify_audit finds the deleted entry" "deleted" \
	"$(sql -c "SELECT string_agg(DISTINCT kind, ',') FROM taskforce.verify_audit()")"
export_all
set +e
out=$("$tool" "$dir/trail.jsonl" "$dir/cp.note" "$dir/vkey")
status=$?
set -e
tf_check "audit-verify finds the deleted entry" "1" "$status"
grep <<<"$out" -q "TAMPERED: .*deleted" || fail "expected deleted, got: $out"
echo "audit_purge: ok"
