#!/usr/bin/env bash
# test/integration/audit_dump_restore.sh: an audited database (with evidence
# rows when taskforce.evidence exists) -> pg_dump -Fc -> pg_restore into a
# fresh database: every entry, sealed transaction, tile, checkpoint and the
# signing key are restored; verify_audit is ok there; a checkpoint taken
# before the dump is consistent with the restored log (checked offline by
# tools/audit-verify); sealing continues after the restore with the same key.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

here=$(cd "$(dirname "$0")/../.." && pwd)
tool="$here/tools/audit-verify"
dir=$(mktemp -d)
port=55622
trap 'tf_stop_instance "$dir"; rm -rf "$dir"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}
sql() { local db=$1; shift; tf_psql "$dir" "$port" -d "$db" -X -At -v ON_ERROR_STOP=1 "$@"; }

tf_start_instance "$dir" "$port"
sql postgres -c "CREATE DATABASE src" >/dev/null
sql src -c "CREATE EXTENSION taskforce CASCADE" >/dev/null
# Skipped (exit 0, saying why) while a function it needs is not installed:
# the trail and merkle parts of issue 9 are merged separately.
missing=$(sql src -c "SELECT string_agg(f, ', ') FROM unnest(ARRAY['taskforce.enable_audit(regclass,text[],text[],boolean,text)', 'taskforce.seal_audit(bigint)', 'taskforce.verify_audit(text,text)', 'taskforce.audit_public_key()', 'taskforce.audit_checkpoint(bigint)', 'taskforce.audit_consistency_proof(bigint,bigint)']) AS f WHERE to_regprocedure(f) IS NULL")
if [ -n "$missing" ]; then
	echo "SKIP: $(basename "$0" .sh): not installed yet: $missing"
	exit 0
fi
sql src >/dev/null <<'SQL'
SELECT taskforce.setup_roles();
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme');
CREATE TABLE public.notes (id int PRIMARY KEY, tenant_id text NOT NULL DEFAULT taskforce.current_tenant(), body text);
SELECT taskforce.enable_tenant_isolation('public.notes');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.notes TO taskforce_app;
SELECT taskforce.enable_audit('public.notes');
SQL
batch() {
	sql src >/dev/null <<SQL
BEGIN;
SELECT taskforce.act_as('acme', 'alice');
SET LOCAL ROLE taskforce_app;
INSERT INTO public.notes (id, body) SELECT g, 'note ' || g FROM generate_series($1, $2) g;
UPDATE public.notes SET body = body || ' (edited)' WHERE id = $1;
COMMIT;
SQL
}
batch 1 300
has_evidence=$(sql src -c "SELECT to_regclass('taskforce.evidence') IS NOT NULL")
if [ "$has_evidence" = t ]; then
	echo "(evidence table present: its rows are part of the dump checks)"
fi
sql src -c "SELECT taskforce.seal_audit()" >/dev/null
sql src -c "SELECT taskforce.audit_checkpoint()" >"$dir/before.note"
sql src -c "SELECT taskforce.audit_public_key()" >"$dir/vkey"
batch 301 320
sql src -c "SELECT taskforce.seal_audit()" >/dev/null

fingerprint() {
	sql "$1" <<'SQL'
SELECT 'entries ' || count(*) || ' ' || md5(string_agg(encode(leaf_hash, 'hex'), '' ORDER BY txid, entry_seq))
  FROM taskforce.audit_log WHERE application_name IS DISTINCT FROM 'pg_restore';
SELECT 'sealed ' || count(*) || ' ' || md5(string_agg(txid || ':' || first_position || ':' || entry_count, ',' ORDER BY txid)) FROM taskforce.audit_sealed_transactions;
SELECT 'tiles ' || count(*) || ' ' || md5(string_agg(encode(hashes, 'hex'), '' ORDER BY level, index)) FROM taskforce.audit_tiles;
SELECT 'checkpoints ' || count(*) || ' ' || md5(string_agg(signed_note, '' ORDER BY tree_size)) FROM taskforce.audit_checkpoints;
SELECT 'key ' || taskforce.audit_public_key();
SELECT 'evidence ' || CASE WHEN to_regclass('taskforce.evidence') IS NULL THEN 'none'
       ELSE (xpath('/row/c/text()', query_to_xml('SELECT count(*) AS c FROM taskforce.evidence', false, true, '')))[1]::text END;
SQL
}
fingerprint src >"$dir/src.fp"

pg_dump -h "$dir" -p "$port" -U postgres -Fc -f "$dir/src.dump" src
sql postgres -c "CREATE DATABASE dst" >/dev/null
pg_restore -h "$dir" -p "$port" -U postgres -d dst --exit-on-error "$dir/src.dump"
fingerprint dst >"$dir/dst.fp"
diff "$dir/src.fp" "$dir/dst.fp" || fail "restored audit state differs"
# The restore's own writes to audited tables (the identity tables' rows
# loaded by COPY fire the audit triggers) are new entries, not restored ones.
restore_entries=$(sql dst -c "SELECT count(*) FROM taskforce.audit_log WHERE application_name = 'pg_restore'")
[ "$restore_entries" = 0 ] || echo "NOTE: pg_restore's data load wrote $restore_entries new audit entries: $(sql dst -c "SELECT string_agg(object || ' ' || action, ', ') FROM taskforce.audit_log WHERE application_name = 'pg_restore'")"
echo "ok: entries, sealed transactions, tiles, checkpoints, key restored: $(tr '\n' ';' <"$dir/dst.fp")"

tf_check "verify_audit is ok after restore" "ok" "$(sql dst -c "SELECT kind FROM taskforce.verify_audit()")"

# The checkpoint taken before the dump is consistent with the restored log.
sql dst -c "SELECT * FROM taskforce.export_audit()" >"$dir/trail.jsonl"
sql dst -c "SELECT taskforce.audit_checkpoint()" >"$dir/after.note"
a=$(sed -n 2p "$dir/before.note"); b=$(sed -n 2p "$dir/after.note")
sql dst -c "SELECT array_to_string(taskforce.audit_consistency_proof($a, $b)::text[], E'\n')" >"$dir/cons.proof"
"$tool" "$dir/trail.jsonl" "$dir/after.note" "$dir/vkey" --old-checkpoint "$dir/before.note" \
	--consistency-proof "$dir/cons.proof" || fail "pre-dump checkpoint not consistent with the restored log"

# Sealing continues: new entries in the restored database, signed by the same key.
sql dst >/dev/null <<'SQL'
BEGIN;
SELECT taskforce.act_as('acme', 'alice');
SET LOCAL ROLE taskforce_app;
INSERT INTO public.notes (id, body) VALUES (1000, 'after restore');
COMMIT;
SELECT taskforce.seal_audit();
SQL
sql dst -c "SELECT taskforce.audit_checkpoint()" >"$dir/later.note"
c=$(sed -n 2p "$dir/later.note")
tf_check "the restored log grew by the new entry (and the restore's own)" "$((b + 1 + restore_entries))" "$c"
sql dst -c "SELECT * FROM taskforce.export_audit()" >"$dir/trail2.jsonl"
sql dst -c "SELECT array_to_string(taskforce.audit_consistency_proof($a, $c)::text[], E'\n')" >"$dir/cons2.proof"
"$tool" "$dir/trail2.jsonl" "$dir/later.note" "$dir/vkey" --old-checkpoint "$dir/before.note" \
	--consistency-proof "$dir/cons2.proof" || fail "sealing after restore broke the log"
tf_check "verify_audit still ok" "ok" "$(sql dst -c "SELECT kind FROM taskforce.verify_audit()")"
echo "ok: the audit log survives pg_dump/pg_restore and keeps growing"
