#!/usr/bin/env bash
# test/integration/audit_sealer.sh: the background audit sealer
# (src/audit/sealer.c) seals the audit log of every database that has
# taskforce every taskforce.audit_seal_interval (200ms here), with nobody
# calling seal_audit().
#
# (a) Audited writes by an ordinary application role in two taskforce
#     databases (and plain writes in a database without taskforce) are
#     sealed: every entry has a position, checkpoints appear, verify_audit
#     says ok.
# (b) Skipping: a database without taskforce is visited only by the
#     start-up sweep (one worker start, "skips" logged); a taskforce
#     database with no new entry gets no worker in a normal round.
# (c) A database where taskforce is created while the server runs is
#     sealed from its first audited write.
# (d) A transaction holding an xid in another database holds back the seal
#     (the snapshot-xmin boundary is cluster-wide) until it ends.
# (e) An error in one database's seal is logged and the others are sealed
#     still; once the cause is gone that database is sealed too.
# (f) Manual seal_audit() calls concurrent with the worker, one of them
#     holding the log's lock for a second: every entry sealed exactly once,
#     verify ok.
# (g) SIGHUP with the interval at 0 stops sealing; back on, it resumes.
# (h) Entries left unsealed at a restart are sealed by the start-up sweep,
#     which also creates missing monthly partitions; pg_terminate_backend
#     of the launcher: the postmaster starts it again.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55631
bg_pids=()
cleanup() {
	local p
	for p in "${bg_pids[@]}"; do kill "$p" 2>/dev/null || true; done
	tf_stop_instance "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	[ -f "$dir/server.log" ] && grep -i "taskforce audit\|ERROR" "$dir/server.log" | tail -n 30
	exit 1
}

# DEBUG1 shows the postmaster starting each seal worker and the skip message.
tf_start_instance "$dir" "$port" "taskforce.audit_seal_interval = 200ms" "log_min_messages = debug1" \
	"max_worker_processes = 16"
qdb() { local db=$1; shift; tf_psql "$dir" "$port" -d "$db" -At "$@"; }
q() { qdb postgres "$@"; }
# as_app DB SQL: runs SQL as the application role acting for tenant acme, user alice.
as_app() {
	qdb "$1" -c "BEGIN; SELECT taskforce.act_as('acme', 'alice') IS NOT NULL; SET LOCAL ROLE app; $2; COMMIT;" >/dev/null
}
# wait_for WHAT EXPECTED SECONDS COMMAND...: polls COMMAND until it prints EXPECTED.
wait_for() {
	local what=$1 expected=$2 limit=$3 got="" start=$SECONDS
	shift 3
	while :; do
		got=$("$@")
		[ "$got" = "$expected" ] && break
		[ $((SECONDS - start)) -lt "$limit" ] || fail "$what: expected '$expected' within ${limit} s, got '$got'"
		sleep 0.1
	done
	echo "ok: $what ($got, after about $((SECONDS - start)) s)"
}
# unsealed DB: audit entries without a position.
unsealed() {
	qdb "$1" -c "SELECT count(*) FROM taskforce.audit_log AS e
	              WHERE NOT EXISTS (SELECT FROM taskforce.audit_sealed_transactions AS s WHERE s.txid = e.txid)"
}
# sealed_state DB: whether every entry is sealed exactly once (entries =
# sum of the sealed transactions' entry counts, none unsealed), whether a
# checkpoint exists, and verify_audit's kind.
sealed_state() {
	qdb "$1" -c "SELECT ((SELECT count(*) FROM taskforce.audit_log)
	                     = (SELECT coalesce(sum(entry_count), 0) FROM taskforce.audit_sealed_transactions)) || ' '
	                 || (SELECT count(*) > 0 FROM taskforce.audit_checkpoints) || ' '
	                 || (SELECT string_agg(kind, ',') FROM taskforce.verify_audit())"
}
# orders DB: the audit entries of public.orders.
orders() { qdb "$1" -c "SELECT count(*) FROM taskforce.audit_log WHERE object = 'public.orders'"; }
db_oid() { q -c "SELECT oid FROM pg_database WHERE datname = '$1'"; }
worker_starts() { grep -c "starting background worker process \"taskforce audit seal for database $1\"" "$dir/server.log" || true; }
setup_db() {
	qdb "$1" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme');
CREATE TABLE public.orders (id integer PRIMARY KEY, tenant_id text NOT NULL DEFAULT taskforce.current_tenant(), item text);
SELECT taskforce.enable_tenant_isolation('public.orders');
GRANT SELECT, INSERT, UPDATE, DELETE ON public.orders TO taskforce_app;
SELECT taskforce.enable_audit('public.orders');
SQL
}

q >/dev/null <<'SQL'
CREATE ROLE app LOGIN;
CREATE DATABASE second;
CREATE DATABASE plain;
SQL
setup_db postgres
setup_db second
q -c "GRANT taskforce_app TO app" >/dev/null
qdb plain -c "CREATE TABLE public.t (id integer PRIMARY KEY, v text)" >/dev/null

wait_for "the audit sealer runs" "1" 10 \
	q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskforce audit sealer'"
tf_check "the setting: default, unit, context, value here" "1000 ms sighup 200" \
	"$(q -c "SELECT boot_val || ' ' || unit || ' ' || context || ' ' || setting FROM pg_settings WHERE name = 'taskforce.audit_seal_interval'")"
tf_check "seal_audit is not callable by the application role" "42501" \
	"$(psql -X -At -h "$dir" -p "$port" -U app -d postgres -v VERBOSITY=verbose -c "SELECT taskforce.seal_audit()" 2>&1 | sed -n 's/^ERROR:  \([0-9A-Z]*\):.*/\1/p')"

echo "== (a) audited writes in two databases are sealed with nobody calling seal_audit"
as_app postgres "INSERT INTO public.orders (id, item) VALUES (1, 'pencil'), (2, 'paper')"
as_app postgres "UPDATE public.orders SET item = 'ink' WHERE id = 2"
as_app second "INSERT INTO public.orders (id, item) VALUES (1, 'stapler')"
qdb plain -c "INSERT INTO public.t VALUES (1, 'not audited')" >/dev/null
wait_for "postgres: all sealed, checkpoint, verify" "true true ok" 10 sealed_state postgres
tf_check "postgres: the orders entries" "3" "$(orders postgres)"
wait_for "second: all sealed, checkpoint, verify" "true true ok" 10 sealed_state second
tf_check "second: the orders entries" "1" "$(orders second)"
tf_check "postgres: the entry names the application user" "alice INSERT" \
	"$(q -c "SELECT user_id || ' ' || action FROM taskforce.audit_log WHERE row_key = '{\"id\": 1}'")"
tf_check "postgres: its position in the log" "t" \
	"$(q -c "SELECT taskforce.audit_position(txid, entry_seq) IS NOT NULL FROM taskforce.audit_log WHERE row_key = '{\"id\": 1}'")"

echo "== (b) a database without taskforce is not visited; nor is an idle one"
# plain was made after the start-up sweep: no worker has been started for it
# ((h) shows the sweep after a restart visiting and skipping it).
plain_oid=$(db_oid plain)
second_oid=$(db_oid second)
postgres_oid=$(db_oid postgres)
tf_check "postgres before taskforce: the start-up sweep skipped it" "1" \
	"$(grep -c "taskforce audit sealer skips database $postgres_oid: no taskforce audit log" "$dir/server.log" || true)"
before=$(worker_starts "$second_oid")
qdb plain -c "INSERT INTO public.t SELECT g, 'x' FROM generate_series(2, 100) AS g" >/dev/null
sleep 1.5
tf_check "plain (written to) and idle second: no worker in 7 rounds" "0 $before" \
	"$(worker_starts "$plain_oid") $(worker_starts "$second_oid")"

echo "== (c) taskforce created in a database while the server runs"
q -c "CREATE DATABASE later" >/dev/null
setup_db later
as_app later "INSERT INTO public.orders (id, item) VALUES (1, 'clip')"
wait_for "later: all sealed, checkpoint, verify" "true true ok" 10 sealed_state later
tf_check "later: the orders entries" "1" "$(orders later)"

echo "== (d) a transaction holding an xid in another database holds back the seal"
psql -X -q -h "$dir" -p "$port" -U postgres -d plain \
	-c "BEGIN; INSERT INTO public.t VALUES (1000, 'long'); SELECT pg_sleep(2); COMMIT;" >/dev/null &
bg_pids+=($!)
wait_for "the long transaction holds an xid" "1" 5 \
	qdb plain -c "SELECT count(*) FROM pg_stat_activity WHERE datname = 'plain' AND backend_xid IS NOT NULL"
as_app postgres "INSERT INTO public.orders (id, item) VALUES (3, 'glue')"
sleep 1
tf_check "postgres: the new entry waits while the older transaction runs" "1" "$(unsealed postgres)"
wait "${bg_pids[-1]}"
wait_for "postgres: sealed once the long transaction ended" "0" 5 unsealed postgres

echo "== (e) an error in one database does not stop the others"
qdb second >/dev/null <<'SQL'
CREATE FUNCTION public.refuse() RETURNS trigger LANGUAGE plpgsql AS
$$BEGIN RAISE EXCEPTION 'checkpoint refused for the test'; END$$;
CREATE TRIGGER refuse BEFORE INSERT ON taskforce.audit_checkpoints FOR EACH ROW EXECUTE FUNCTION public.refuse();
SQL
as_app second "INSERT INTO public.orders (id, item) VALUES (2, 'tape')"
as_app postgres "INSERT INTO public.orders (id, item) VALUES (4, 'chalk')"
wait_for "postgres: sealed while second fails" "0" 5 unsealed postgres
wait_for "second: the failure is logged" "true" 5 \
	bash -c "grep -q 'checkpoint refused for the test' '$dir/server.log' && echo true || echo false"
tf_check "second: its entry is still unsealed" "1" "$(unsealed second)"
qdb second -c "DROP TRIGGER refuse ON taskforce.audit_checkpoints" >/dev/null
wait_for "second: sealed once the cause is gone" "true true ok" 10 sealed_state second

echo "== (f) manual seals concurrent with the worker"
(
	for i in $(seq 1 40); do
		as_app postgres "INSERT INTO public.orders (id, item) SELECT 100 * $i + g, 'w' FROM generate_series(1, 5) AS g"
	done
) &
bg_pids+=($!)
writer=$!
(
	for i in $(seq 1 30); do q -c "SELECT count(*) FROM taskforce.seal_audit()" >/dev/null; sleep 0.05; done
) &
bg_pids+=($!)
sealer=$!
q -c "BEGIN; SELECT count(*) FROM taskforce.seal_audit(); SELECT pg_sleep(1); COMMIT;" >/dev/null
wait "$writer" "$sealer"
wait_for "postgres: every entry sealed exactly once, verify ok" "true true ok" 10 sealed_state postgres
tf_check "postgres: the orders entries" "205" "$(orders postgres)"
tf_check "postgres: positions are (txid, entry_seq) order" "0" \
	"$(q -c "SELECT count(*) FROM (SELECT taskforce.audit_position(txid, entry_seq) AS p,
	                                      row_number() OVER (ORDER BY txid, entry_seq) - 1 AS r
	                                 FROM taskforce.audit_log) AS x WHERE p <> r")"

echo "== (g) the interval set to 0 on reload stops sealing; back on, it resumes"
q -c "ALTER SYSTEM SET taskforce.audit_seal_interval = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
as_app postgres "INSERT INTO public.orders (id, item) VALUES (5, 'off')"
sleep 1.5
tf_check "postgres: not sealed with the interval at 0" "1" "$(unsealed postgres)"
q -c "ALTER SYSTEM SET taskforce.audit_seal_interval = '200ms'" -c "SELECT pg_reload_conf()" >/dev/null
wait_for "postgres: sealed once the interval is back" "0" 5 unsealed postgres

echo "== (h) a restart: the start-up sweep seals what was left and creates partitions"
q -c "ALTER SYSTEM SET taskforce.audit_seal_interval = 0" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
as_app second "INSERT INTO public.orders (id, item) VALUES (3, 'left over')"
ahead=$(q -c "SELECT 'audit_log_' || to_char(date_trunc('month', now() AT TIME ZONE 'UTC') + interval '3 months', 'YYYYMM')")
q -c "DROP TABLE taskforce.$ahead" >/dev/null
q -c "ALTER SYSTEM SET taskforce.audit_seal_interval = '200ms'" >/dev/null
pg_ctl -D "$dir/data" -m fast -w stop >/dev/null
pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null
wait_for "second: the left-over entry sealed after the restart" "0" 10 unsealed second
tf_check "second: all sealed, checkpoint, verify" "true true ok" "$(sealed_state second)"
wait_for "postgres: the dropped partition $ahead made again" "t" 10 \
	q -c "SELECT to_regclass('taskforce.$ahead') IS NOT NULL"
tf_check "plain: visited once, by the start-up sweep, and skipped" "1 1" \
	"$(worker_starts "$plain_oid") $(grep -c "taskforce audit sealer skips database $plain_oid: no taskforce audit log" "$dir/server.log" || true)"
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'taskforce audit sealer'" >/dev/null
as_app postgres "INSERT INTO public.orders (id, item) VALUES (6, 'after restart')"
wait_for "postgres: sealed by the restarted launcher" "0" 20 unsealed postgres
echo "ok: audit_sealer"
