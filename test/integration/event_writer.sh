#!/usr/bin/env bash
# test/integration/event_writer.sh: the event writer (src/auth/writer.c)
# writes queued security events and failed-password counters on a server
# where nothing else writes, and a stopping server logs what is still
# queued instead of losing it silently.
#
# (a) Idle server: failed passwords of an ordinary application role reach
#     taskforce.security_events, and the counters (then the lock)
#     taskforce.user_credentials, within seconds, with nobody calling
#     flush_security_events.  Before 0.3.0's writer they waited for the
#     next taskforce write, indefinitely.
# (b) Every worker slot taken by other workers: the event waits (the
#     writer logs that it found no slot) and arrives once a slot frees.
# (c) A database that was dropped, or no longer has taskforce, cannot take
#     its queued events: they go to the server log and leave the queue.
# (d) The writer alone terminated (pg_terminate_backend) logs what is
#     queued, and the postmaster restarts it: the events, still queued,
#     then reach the table too.
# (e) Stopping the server with events queued (writer off) writes each to
#     the server log, before the shutdown checkpoint, with the counters
#     not yet persisted.
# (f) A queue half full wakes the writer before its interval runs out.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55581
bg_pid=
cleanup() {
	[ -z "$bg_pid" ] || kill "$bg_pid" 2>/dev/null || true
	tf_stop_instance "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

# Four worker slots: the event writer and the audit sealer take one each
# (they are static; the sealer is off and starts no worker of its own), a
# parallel query of two workers the other two; no logical replication
# launcher.
tf_start_instance "$dir" "$port" "max_worker_processes = 4" "max_parallel_workers = 2" \
	"max_logical_replication_workers = 0" "taskforce.event_flush_interval = 1"
q() { tf_psql "$dir" "$port" -d postgres -At "$@"; }
qdb() { local db=$1; shift; tf_psql "$dir" "$port" -d "$db" -At "$@"; }
# as_app DB SQL...: runs statements as the application role, printing
# psql's stderr (verbose errors: SQLSTATE) and stdout.
as_app() {
	local db=$1 args=() s
	shift
	for s in "$@"; do args+=(-c "$s"); done
	psql -X -q -At -v VERBOSITY=verbose -h "$dir" -p "$port" -U app -d "$db" "${args[@]}" 2>&1 || true
}
# wrong_guess DB TENANT USER: one wrong password, which must be refused with 28P01.
wrong_guess() {
	local out
	out=$(as_app "$1" "SELECT taskforce.authenticate_password('$2', '$3', 'Wrong-Guess-0!')")
	grep <<<"$out" -q "ERROR:  28P01: authentication failed" ||
		fail "wrong password for $3 in $1: expected 28P01 authentication failed, got: $out"
}
# wait_for WHAT EXPECTED SECONDS COMMAND...: polls COMMAND (every 0.2 s, at
# most SECONDS) until it prints EXPECTED; prints how long it took.
wait_for() {
	local what=$1 expected=$2 limit=$3 got="" start=$SECONDS
	shift 3
	while :; do
		got=$("$@")
		[ "$got" = "$expected" ] && break
		[ $((SECONDS - start)) -lt "$limit" ] || fail "$what: expected '$expected' within ${limit} s, got '$got'"
		sleep 0.2
	done
	echo "ok: $what ($got, after about $((SECONDS - start)) s)"
}
log_count() { grep -c -- "$1" "$dir/server.log" || true; }
# setup_db DB: taskforce, tenant ew (3 failed attempts lock), users with a password.
setup_db() {
	qdb "$1" >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
SELECT count(*) FROM taskforce.create_tenant('ew', 'Event writer');
SELECT count(*) FROM taskforce.set_password_policy(tenant_id => 'ew', max_failed_attempts => 3);
SELECT count(*) FROM (VALUES ('alice'), ('bob'), ('carol'), ('dave')) AS v(u),
       LATERAL taskforce.create_user(v.u, v.u, tenant_id => 'ew');
SELECT taskforce.set_password(u, 'Right-Horse-42!', 'ew') FROM (VALUES ('alice'), ('bob'), ('carol'), ('dave')) AS v(u);
SQL
}

q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE ROLE app LOGIN;
SQL
setup_db postgres
q >/dev/null <<'SQL'
GRANT taskforce_app TO app;
-- A table to keep two parallel workers busy for a while (cancelled below).
CREATE TABLE public.big AS SELECT g AS id FROM generate_series(1, 200000) AS g;
ALTER TABLE public.big SET (parallel_workers = 2);
ANALYZE public.big;
GRANT SELECT ON public.big TO app;
SQL
failures() {
	q -c "SELECT count(*) FROM taskforce.security_events
           WHERE tenant_id = 'ew' AND user_id = '$1' AND event = 'authentication' AND outcome = 'failure'"
}
counters() {
	q -c "SELECT failed_attempts || ' ' || coalesce(locked_until > now(), false)
            FROM taskforce.user_credentials WHERE tenant_id = 'ew' AND user_id = '$1'"
}

wait_for "the event writer runs" "1" 10 \
	q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskforce event writer'"

echo "== (a) an idle server: nobody writes, nobody calls flush_security_events"
wrong_guess postgres ew alice
wrong_guess postgres ew alice
echo "ok: two wrong passwords as the application role, each refused with 28P01"
wait_for "alice's failures in security_events" "2" 15 failures alice
wait_for "alice's counters in user_credentials (failed_attempts, locked)" "2 false" 15 counters alice
wrong_guess postgres ew alice
wait_for "alice locked in user_credentials" "0 true" 15 counters alice
wait_for "alice's lockout event" "1" 15 \
	q -c "SELECT count(*) FROM taskforce.security_events WHERE user_id = 'alice' AND event = 'lockout'"

echo "== (b) every worker slot taken by other workers"
parallel="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
parallel="$parallel SET min_parallel_table_scan_size = 0;"
busy=0
# A flush worker still exiting can hold a slot for a moment: then the query
# gets one worker; cancel it and start again.
for try in 1 2 3 4 5; do
	psql -X -q -h "$dir" -p "$port" -U app -d postgres \
		-c "$parallel SELECT count(*) FROM public.big WHERE pg_sleep(0.001) IS NOT NULL" >/dev/null 2>&1 &
	bg_pid=$!
	for _ in $(seq 1 50); do
		busy=$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker'")
		[ "$busy" = 2 ] && break
		sleep 0.1
	done
	[ "$busy" = 2 ] && break
	kill "$bg_pid" 2>/dev/null || true
	q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'app' AND backend_type = 'client backend'" >/dev/null
	wait "$bg_pid" 2>/dev/null || true
	bg_pid=
done
tf_check "parallel workers filling the two free slots" "2" "$busy"
before=$(log_count "found no free background worker slot")
wrong_guess postgres ew bob
wait_for "the writer reports it found no free slot" "1" 15 \
	bash -c "[ \$(grep -c 'found no free background worker slot' '$dir/server.log') -gt $before ] && echo 1 || echo 0"
tf_check "bob's failure while no slot is free (still queued)" "0" "$(failures bob)"
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'app' AND backend_type = 'client backend'" >/dev/null
wait "$bg_pid" 2>/dev/null || true
bg_pid=
wait_for "bob's failure once the slots are free" "1" 15 failures bob

echo "== (c) queued events of a database without taskforce, and of a dropped database"
q >/dev/null <<'SQL'
ALTER SYSTEM SET taskforce.event_flush_interval = 0;
CREATE DATABASE uninstalled;
CREATE DATABASE dropped;
SQL
setup_db uninstalled
setup_db dropped
pg_ctl -D "$dir/data" -m fast -w restart -l "$dir/server.log" >/dev/null
wrong_guess uninstalled ew alice
wrong_guess dropped ew alice
qdb uninstalled -c "DROP EXTENSION taskforce CASCADE" >/dev/null
q -c "DROP DATABASE dropped" >/dev/null
q -c "ALTER SYSTEM SET taskforce.event_flush_interval = 1" -c "SELECT pg_reload_conf()" >/dev/null
wait_for "the uninstalled database's event in the server log" "1" 15 \
	log_count "taskforce security event not written: taskforce is not installed in its database"
wait_for "the dropped database's event in the server log" "1" 15 \
	log_count "taskforce security event not written: its database was dropped"
got=$(grep -A1 "taskforce security event not written: its database was dropped" "$dir/server.log" |
	grep -c '"user_id":"alice".*"reason":"wrong password"' || true)
tf_check "the logged event is the whole record" "1" "$got"
wrong_guess postgres ew carol
wait_for "carol's failure (the writer goes on)" "1" 15 failures carol
tf_check "events logged for the uninstalled database (once)" "1" \
	"$(log_count "taskforce security event not written: taskforce is not installed in its database")"

echo "== (d) the writer alone terminated, with an event queued (writer off)"
q -c "ALTER SYSTEM SET taskforce.event_flush_interval = 0" >/dev/null
pg_ctl -D "$dir/data" -m fast -w restart -l "$dir/server.log" >/dev/null
stopped_msg="taskforce security event still queued at shutdown of the event writer"
wrong_guess postgres ew carol
tf_check "carol's second failure, queued (writer off)" "1" "$(failures carol)"
before=$(log_count "$stopped_msg")
q -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE backend_type = 'taskforce event writer'" >/dev/null
wait_for "the terminated writer logs carol's queued failure" "$((before + 1))" 10 log_count "$stopped_msg"
q -c "ALTER SYSTEM SET taskforce.event_flush_interval = 1" -c "SELECT pg_reload_conf()" >/dev/null
wait_for "the postmaster restarts the writer, which writes carol's failure, still queued" "2" 30 failures carol

echo "== (e) stopping the server with events queued (writer off)"
q -c "ALTER SYSTEM SET taskforce.event_flush_interval = 0" >/dev/null
pg_ctl -D "$dir/data" -m fast -w restart -l "$dir/server.log" >/dev/null
wrong_guess postgres ew dave
tf_check "dave's failure, queued (writer off)" "0" "$(failures dave)"
tf_check "dave's counters, not persisted (writer off)" "0 false" "$(counters dave)"
before=$(log_count "$stopped_msg")
tf_stop_instance "$dir"
got=$(grep -A1 "$stopped_msg" "$dir/server.log" | grep -c '"user_id":"dave".*"reason":"wrong password"' || true)
tf_check "dave's queued failure in the server log at shutdown" "1" "$got"
tf_check "events logged at this shutdown" "$((before + 1))" "$(log_count "$stopped_msg")"
got=$(grep -A1 "taskforce failed-password counters not yet persisted at shutdown of the event writer" "$dir/server.log" |
	grep -c 'tenant "ew", user "dave": failed_attempts 1, locked until never' || true)
tf_check "dave's unpersisted counters in the server log at shutdown" "1" "$got"
grep -A2 "$stopped_msg" "$dir/server.log" | grep -q "STATEMENT:" &&
	fail "a logged event shows a statement"
event_line=$(grep -n "$stopped_msg" "$dir/server.log" | tail -n 1 | cut -d: -f1)
checkpoint_line=$(grep -n "checkpoint starting: shutdown" "$dir/server.log" | tail -n 1 | cut -d: -f1)
[ -n "$checkpoint_line" ] && [ "$event_line" -lt "$checkpoint_line" ] ||
	fail "the queued events should be logged before the shutdown checkpoint (lines $event_line, $checkpoint_line)"
echo "ok: logged before the shutdown checkpoint"

echo "== (f) a queue half full wakes the writer long before its interval"
pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 \
	-o "-c taskforce.event_flush_interval=3600 -c taskforce.event_queue_size=16" start >/dev/null
for i in $(seq 1 8); do
	out=$(as_app postgres "SELECT taskforce.authenticate_api_key('not-a-key-$i')")
	grep <<<"$out" -q "ERROR:  28000: malformed api key" || fail "bad key $i: $out"
done
echo "ok: eight bad API keys as the application role, each refused with 28000"
wait_for "the eight failures in security_events with an interval of one hour" "8" 10 \
	q -c "SELECT count(*) FROM taskforce.security_events WHERE reason = 'malformed api key'"
echo "PASS: the event writer writes on an idle server and logs what a shutdown would lose"
