#!/usr/bin/env bash
# test/integration/lockout_attacks.sh: the two ways around password lockout
# that 0.2.0 allowed are closed, as an ordinary application role sees it.
#
# (a) Worker exhaustion: 0.2.0 counted failed passwords in a background
#     worker; a caller that filled every worker slot with parallel queries
#     guessed without being counted or recorded.  Here the slots are full
#     (a second parallel query launches no worker), yet every wrong guess
#     counts, the account locks, and the events are recorded.
# (b) statement_timeout just above the hash time: 0.2.0 let a caller cancel
#     a wrong guess while it waited for the worker (and learn from the
#     error that the guess was wrong), while a right guess returned in
#     time.  Here a cancelled guess counts as failed, every refusal is the
#     same error, and a locked account answers the right password with
#     exactly the error it gives a wrong one.
# (c) More failures than the event queue holds: the overflow is recorded.
# (d) One tenant's users who failed once fill the shared lockout table:
#     once their counts are persisted they make room, so every other
#     tenant's users still log in, and an evicted user's count is kept.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55541
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

# Four worker slots, two of them the static event writer's and audit
# sealer's, no logical replication launcher: one parallel query of two
# workers fills max_worker_processes (the sealer is off: it starts no
# worker of its own).  The writer is off (event_flush_interval = 0): this
# test writes the queue itself, to count what it holds (event_writer.sh
# tests the writer, with the slots full too).
tf_start_instance "$dir" "$port" "max_worker_processes = 4" "max_parallel_workers = 2" \
	"max_logical_replication_workers = 0" "taskforce.event_queue_size = 16" \
	"taskforce.event_flush_interval = 0" "taskforce.lockout_entries = 100"
q() { tf_psql "$dir" "$port" -d postgres -At "$@"; }
# as_attacker SQL...: runs statements as the application role, printing
# psql's stderr (verbose errors: SQLSTATE and context) and stdout.
as_attacker() {
	local args=() s
	for s in "$@"; do args+=(-c "$s"); done
	psql -X -q -At -v VERBOSITY=verbose -h "$dir" -p "$port" -U attacker -d postgres "${args[@]}" 2>&1 || true
}

q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE attacker LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('la', 'Lockout attacks');
SELECT count(*) FROM taskforce.set_password_policy(tenant_id => 'la', max_failed_attempts => 3);
SELECT count(*) FROM (VALUES ('victim1'), ('victim2')) AS v(u),
       LATERAL taskforce.create_user(v.u, v.u, tenant_id => 'la');
SELECT taskforce.set_password(u, 'Right-Horse-42!', 'la') FROM (VALUES ('victim1'), ('victim2')) AS v(u);
-- A table to keep parallel workers busy: about 10 s with two workers.
CREATE TABLE public.big AS SELECT g AS id FROM generate_series(1, 30000) AS g;
ALTER TABLE public.big SET (parallel_workers = 2);
ANALYZE public.big;
GRANT SELECT ON public.big TO attacker;
-- How long one bcrypt check takes here, in milliseconds.
CREATE FUNCTION public.hash_ms() RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
    t timestamptz := clock_timestamp();
BEGIN
    PERFORM taskforce._bcrypt('x', taskforce._dummy_bcrypt_hash(10));
    RETURN ceil(extract(epoch FROM clock_timestamp() - t) * 1000);
END
$$;
SQL

parallel="SET max_parallel_workers_per_gather = 2; SET parallel_setup_cost = 0; SET parallel_tuple_cost = 0;"
parallel="$parallel SET min_parallel_table_scan_size = 0;"

echo "== (a) every worker slot taken by the attacker's parallel query"
psql -X -q -h "$dir" -p "$port" -U attacker -d postgres \
	-c "$parallel SELECT count(*) FROM public.big WHERE pg_sleep(0.001) IS NOT NULL" >/dev/null 2>&1 &
bg_pid=$!
busy=0
for _ in $(seq 1 100); do
	busy=$(q -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'parallel worker'")
	[ "$busy" = 2 ] && break
	sleep 0.1
done
tf_check "parallel workers running for the attacker" "2" "$busy"
launched=$(as_attacker "$parallel" "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) SELECT count(*) FROM public.big" |
	sed -n 's/^ *Workers Launched: //p')
tf_check "workers another parallel query gets (no slot is free)" "0" "$launched"

for i in 1 2 3; do
	out=$(as_attacker "SELECT taskforce.authenticate_password('la', 'victim1', 'Guess-$i-Wrong!')")
	grep <<<"$out" -q "ERROR:  28P01: authentication failed" ||
		fail "wrong guess $i: expected 28P01 authentication failed, got: $out"
done
echo "ok: three wrong guesses, each refused with 28P01 while no worker slot is free"
out=$(as_attacker "SELECT taskforce.authenticate_password('la', 'victim1', 'Right-Horse-42!')")
grep <<<"$out" -q "ERROR:  28P01: authentication failed" ||
	fail "the right password after three wrong guesses should be refused (locked), got: $out"
echo "ok: the right password is then refused: the account locked"
q -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE usename = 'attacker' AND pid <> pg_backend_pid()" >/dev/null
wait "$bg_pid" 2>/dev/null || true
bg_pid=

q -c "SELECT taskforce.flush_security_events('0')" >/dev/null
got=$(q -c "SELECT string_agg(event || ':' || coalesce(reason, ''), ', ' ORDER BY event_id)
              FROM taskforce.security_events
             WHERE tenant_id = 'la' AND user_id = 'victim1' AND outcome = 'failure'")
tf_check "victim1's recorded failures" \
	"authentication:wrong password, authentication:wrong password, authentication:wrong password, lockout:too many failed password attempts, authentication:account is locked" "$got"
got=$(q -c "SELECT failed_attempts || ' ' || (locked_until > now())
              FROM taskforce.user_credentials WHERE tenant_id = 'la' AND user_id = 'victim1'")
tf_check "victim1's persisted counters (failed_attempts, locked)" "0 true" "$got"

echo "== (b) statement_timeout just above the time of one bcrypt check"
hash_ms=$(q -c "SELECT max(public.hash_ms()) FROM generate_series(1, 5)")
timeout_ms=$((hash_ms + hash_ms / 10 + 1))
echo "   one bcrypt check takes about $hash_ms ms; statement_timeout = $timeout_ms ms, then $((hash_ms / 2)) ms"
attempts=0
cancelled=
for t in "$timeout_ms" "$timeout_ms" "$((hash_ms / 2))"; do
	attempts=$((attempts + 1))
	out=$(as_attacker "SET statement_timeout = '${t}ms'" \
		"SELECT taskforce.authenticate_password('la', 'victim2', 'Guess-$attempts-Wrong!')")
	if grep <<<"$out" -q "ERROR:  57014: canceling statement due to statement timeout"; then
		echo "   guess $attempts: cancelled"
		# Wherever it lands, a cancellation reads the same (context included).
		if [ -n "$cancelled" ] && [ "$out" != "$cancelled" ]; then
			fail "two cancellations read differently: '$cancelled' against '$out'"
		fi
		cancelled=$out
	elif grep <<<"$out" -q "ERROR:  28P01: authentication failed"; then
		echo "   guess $attempts: refused"
	else
		fail "guess $attempts: expected 28P01 or 57014, got: $out"
	fi
	if grep <<<"$out" -Eqi "wrong password|locked|deactivated|unknown user"; then
		fail "guess $attempts: the error tells the reason: $out"
	fi
done
right=$(as_attacker "SET statement_timeout = '${timeout_ms}0ms'" \
	"SELECT taskforce.authenticate_password('la', 'victim2', 'Right-Horse-42!')")
wrong=$(as_attacker "SET statement_timeout = '${timeout_ms}0ms'" \
	"SELECT taskforce.authenticate_password('la', 'victim2', 'Guess-4-Wrong!')")
grep <<<"$right" -q "ERROR:  28P01: authentication failed" ||
	fail "after three cancelled or refused guesses the right password should be refused, got: $right"
[ "$right" = "$wrong" ] || fail "a locked account answers the right and a wrong password differently: '$right' against '$wrong'"
echo "ok: three guesses (cancelled or refused) lock the account; then the right and a wrong password get the same error, context included"

q -c "SELECT taskforce.flush_security_events('0')" >/dev/null
got=$(q -c "SELECT count(*) FILTER (WHERE event = 'authentication') || ' attempts, '
                   || count(*) FILTER (WHERE event = 'lockout') || ' lockout'
              FROM taskforce.security_events
             WHERE tenant_id = 'la' AND user_id = 'victim2' AND outcome = 'failure'")
tf_check "victim2's recorded failures (3 guesses, 2 refusals while locked)" "5 attempts, 1 lockout" "$got"
got=$(q -c "SELECT count(*) FROM taskforce.security_events
             WHERE tenant_id = 'la' AND user_id = 'victim2' AND reason = 'account is locked'")
tf_check "refusals recorded as 'account is locked'" "2" "$got"
got=$(q -c "SELECT locked_until > now() FROM taskforce.user_credentials WHERE tenant_id = 'la' AND user_id = 'victim2'")
tf_check "victim2 locked in user_credentials" "t" "$got"

echo "== (c) more failures than the event queue holds, with nothing written in between"
for i in $(seq 1 20); do
	out=$(as_attacker "SELECT taskforce.authenticate_api_key('not-a-key-$i')")
	grep <<<"$out" -q "ERROR:  28000: malformed api key" || fail "flood attempt $i: $out"
done
q -c "SELECT taskforce.flush_security_events('0')" >/dev/null
got=$(q -c "SELECT count(*) FROM taskforce.security_events WHERE reason = 'malformed api key'")
tf_check "failures written from the full queue" "16" "$got"
got=$(q -c "SELECT string_agg(event || ' lost=' || (details->>'lost'), ', ') FROM taskforce.security_events WHERE event = 'events_lost'")
tf_check "the overflow recorded" "events_lost lost=4" "$got"
got=$(grep -c "taskforce security event queue is full" "$dir/server.log" || true)
tf_check "dropped events in the server log" "4" "$got"

echo "== (d) one tenant fills the lockout table (100 entries) with users who failed once"
q >/dev/null <<'SQL'
SELECT count(*) FROM taskforce.create_tenant('flood', 'Flood');
SELECT count(*) FROM taskforce.create_role('user_admin', ARRAY['user:manage', 'policy:manage'], tenant_id => 'flood');
SELECT count(*) FROM taskforce.create_user('boss', 'boss', tenant_id => 'flood');
SELECT count(*) FROM taskforce.grant_role('boss', 'user_admin', tenant_id => 'flood');
SELECT count(*) FROM (VALUES ('victim3'), ('victim4')) AS v(u),
       LATERAL taskforce.create_user(v.u, v.u, tenant_id => 'la');
SELECT taskforce.set_password(u, 'Right-Horse-42!', 'la') FROM (VALUES ('victim3'), ('victim4')) AS v(u);
SQL
flood_key=$(q -c "SELECT api_key FROM taskforce.create_api_key('boss', 'flood key', tenant_id => 'flood')")
# victim3 fails twice of its three; the counts are persisted.
for i in 1 2; do
	out=$(as_attacker "SELECT taskforce.authenticate_password('la', 'victim3', 'Guess-$i-Wrong!')")
	grep <<<"$out" -q "ERROR:  28P01: authentication failed" || fail "victim3 guess $i: $out"
done
q -c "SELECT taskforce.flush_security_events('0')" >/dev/null
# 150 users of the attacker's own tenant, each with a password and one wrong guess.
psql -X -q -At -h "$dir" -p "$port" -U attacker -d postgres -v key="$flood_key" >/dev/null <<'SQL'
SELECT taskforce.authenticate_api_key(:'key', scope => 'session');
SELECT count(*) FROM taskforce.set_password_policy(bcrypt_cost => 4);
SELECT count(*) FROM generate_series(1, 150) AS g, LATERAL taskforce.create_user('f' || g, 'f' || g);
SELECT count(*) FROM generate_series(1, 150) AS g, LATERAL taskforce.set_password('f' || g, 'Flood-Passw0rd!' || g);
SELECT taskforce.clear_context();
DO $$ BEGIN
    FOR g IN 1..150 LOOP
        BEGIN
            PERFORM taskforce.authenticate_password('flood', 'f' || g, 'Wrong-Passw0rd!');
        EXCEPTION WHEN invalid_password THEN NULL;
        END;
    END LOOP;
END $$;
SQL
full=$(grep -c "taskforce lockout table is full" "$dir/server.log" || true)
[ "$full" -gt 0 ] || fail "150 unpersisted failures should have filled a table of 100 entries"
echo "ok: unpersisted counts fill the table ($full attempts refused and logged meanwhile)"
# Once written (by the next write or a scheduled flush) they make room.
q -c "SELECT taskforce.flush_security_events('0')" >/dev/null
out=$(as_attacker "SELECT taskforce.authenticate_password('la', 'victim4', 'Right-Horse-42!', scope => 'session')" \
	"SELECT taskforce.current_user_id()" | tail -n 1)
[ "$out" = "victim4" ] || fail "another tenant's user should log in once the flood is persisted, got: $out"
echo "ok: another tenant's user logs in"
# victim3's entry was evicted with a count of 2: its third wrong guess locks it.
out=$(as_attacker "SELECT taskforce.authenticate_password('la', 'victim3', 'Guess-3-Wrong!')")
grep <<<"$out" -q "ERROR:  28P01: authentication failed" || fail "victim3 guess 3: $out"
out=$(as_attacker "SELECT taskforce.authenticate_password('la', 'victim3', 'Right-Horse-42!')")
grep <<<"$out" -q "ERROR:  28P01: authentication failed" ||
	fail "victim3's right password after three wrong guesses should be refused (locked), got: $out"
q -c "SELECT taskforce.flush_security_events('0')" >/dev/null
got=$(q -c "SELECT string_agg(event || ':' || coalesce(reason, ''), ', ' ORDER BY event_id)
              FROM taskforce.security_events
             WHERE tenant_id = 'la' AND user_id = 'victim3' AND outcome = 'failure'")
tf_check "victim3's recorded failures, its count kept across eviction" \
	"authentication:wrong password, authentication:wrong password, authentication:wrong password, lockout:too many failed password attempts, authentication:account is locked" "$got"
