#!/usr/bin/env bash
# test/integration/audit_crash.sh: an audited load from several pgbench
# clients (bounded, loopback) plus a witness client that logs every id whose
# COMMIT was acknowledged; kill -9 of the postmaster mid-load; restart: every
# acknowledged row exists and has its INSERT entry, no entry lacks its row
# (no uncommitted row has one), and the log seals and verifies.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55623
bench=
witness=
trap 'kill $bench $witness 2>/dev/null || true; tf_stop_instance "$dir"; rm -rf "$dir"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}
sql() { tf_psql "$dir" "$port" -d postgres -X -At -v ON_ERROR_STOP=1 "$@"; }
command -v pgbench >/dev/null || fail "pgbench not found"

tf_start_instance "$dir" "$port"
sql -c "CREATE EXTENSION taskforce CASCADE" >/dev/null
# Skipped (exit 0, saying why) while a function it needs is not installed:
# the trail and merkle parts of issue 9 are merged separately.
missing=$(sql -c "SELECT string_agg(f, ', ') FROM unnest(ARRAY['taskforce.enable_audit(regclass,text[],text[],boolean,text)']) AS f WHERE to_regprocedure(f) IS NULL")
if [ -n "$missing" ]; then
	echo "SKIP: $(basename "$0" .sh): not installed yet: $missing"
	exit 0
fi
sql >/dev/null <<'SQL'
SELECT taskforce.setup_roles();
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme');
CREATE TABLE public.jobs (id bigint PRIMARY KEY, tenant_id text NOT NULL DEFAULT taskforce.current_tenant(), payload text);
SELECT taskforce.enable_tenant_isolation('public.jobs');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.jobs TO taskforce_app;
SELECT taskforce.enable_audit('public.jobs');
SQL

# pgbench clients: ids from client_id * 10^9 + random, several rows per transaction.
cat >"$dir/load.sql" <<'PGB'
\set base (:client_id + 1) * 1000000000 + random(1, 999999000)
BEGIN;
SELECT taskforce.act_as('acme', 'bench');
SET LOCAL ROLE taskforce_app;
INSERT INTO public.jobs (id, payload) SELECT :base + g, 'load' FROM generate_series(1, 3) g ON CONFLICT DO NOTHING;
COMMIT;
PGB
pgbench -n -h "$dir" -p "$port" -U postgres -c 4 -j 2 -T 30 -f "$dir/load.sql" postgres >"$dir/pgbench.log" 2>&1 &
bench=$!

# The witness: one id per transaction, logged only after COMMIT returned.
(
	i=0
	while :; do
		i=$((i + 1))
		psql -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 >/dev/null 2>&1 <<SQL || exit 0
BEGIN;
SELECT taskforce.act_as('acme', 'witness');
SET LOCAL ROLE taskforce_app;
INSERT INTO public.jobs (id, payload) VALUES ($i, 'witness');
COMMIT;
SQL
		echo "$i" >>"$dir/acked"
	done
) &
witness=$!

sleep 4
pid=$(head -1 "$dir/data/postmaster.pid")
kill -9 "$pid"
wait $bench 2>/dev/null || true
wait $witness 2>/dev/null || true
bench= witness=
# The killed postmaster's children exit when they notice; until then the
# shared memory is in use and a restart is refused: retry.
started=
for _ in $(seq 1 30); do
	if pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null 2>&1; then
		started=1
		break
	fi
	sleep 1
done
[ -n "$started" ] || { tail -20 "$dir/server.log"; fail "restart after kill -9"; }

acked=$(wc -l <"$dir/acked" 2>/dev/null || echo 0)
[ "$acked" -gt 0 ] || fail "the witness committed nothing before the crash"
sql -c "CREATE TABLE public.acked (id bigint PRIMARY KEY)" >/dev/null
sql -c "\copy public.acked FROM '$dir/acked'"
tf_check "every acknowledged id is a row" "0" \
	"$(sql -c "SELECT count(*) FROM public.acked a WHERE NOT EXISTS (SELECT 1 FROM public.jobs j WHERE j.id = a.id)")"
tf_check "every row has its INSERT entry" "0" \
	"$(sql -c "SELECT count(*) FROM public.jobs j WHERE NOT EXISTS (SELECT 1 FROM taskforce.audit_log e
	       WHERE e.object = 'public.jobs' AND e.action = 'INSERT' AND e.row_key = jsonb_build_object('id', j.id)::text)")"
tf_check "no entry without its row (none from uncommitted transactions)" "0" \
	"$(sql -c "SELECT count(*) FROM taskforce.audit_log e WHERE e.object = 'public.jobs'
	       AND NOT EXISTS (SELECT 1 FROM public.jobs j WHERE jsonb_build_object('id', j.id)::text = e.row_key)")"
rows=$(sql -c "SELECT count(*) FROM public.jobs")
echo "ok: $rows rows ($acked acknowledged by the witness) survived the crash with their entries"
# Sealing and verification are the merkle part's.
missing=$(sql -c "SELECT string_agg(f, ', ') FROM unnest(ARRAY['taskforce.seal_audit(bigint)', 'taskforce.verify_audit(text,text)', 'taskforce.audit_position(bigint,integer)', 'taskforce.audit_checkpoint(bigint)', 'taskforce.audit_public_key()']) AS f WHERE to_regprocedure(f) IS NULL")
if [ -n "$missing" ]; then
	echo "SKIP: sealing and verifying after recovery: not installed yet: $missing"
	exit 0
fi
sql -c "SELECT taskforce.seal_audit()" >/dev/null
tf_check "every entry is sealed after recovery" "0" \
	"$(sql -c "SELECT count(*) FROM taskforce.audit_log e WHERE taskforce.audit_position(e.txid, e.entry_seq) IS NULL")"
tf_check "verify_audit is ok after recovery" "ok" "$(sql -c "SELECT kind FROM taskforce.verify_audit()")"
# And offline, from the export.
sql -c "SELECT * FROM taskforce.export_audit()" >"$dir/trail.jsonl"
sql -c "SELECT taskforce.audit_checkpoint()" >"$dir/cp.note"
sql -c "SELECT taskforce.audit_public_key()" >"$dir/vkey"
out=$("$(dirname "$0")/../../tools/audit-verify" "$dir/trail.jsonl" "$dir/cp.note" "$dir/vkey") || fail "offline: $out"
echo "$out"
echo "ok: audited load survives kill -9 of the postmaster"
