#!/usr/bin/env bash
# test/integration/credential_privacy.sh: a JWT passed to authenticate_jwt
# as a bind parameter is visible nowhere another session of the same
# database role can look, nor in the server log or the database.
#
# Session A (pgbench, application role) logs in with a token sent as a bind
# parameter (-M extended: unnamed statements; -M prepared: named ones) and
# stays in a transaction, then idle.  Meanwhile session B (psql, the same
# role) reads every row of pg_stat_activity while A runs the login, while A
# runs a later statement of the same transaction, and while A sits idle with
# the login as its last query; B's own pg_prepared_statements, pg_settings
# and taskforce.context; and taskforce.security_events (denied).  A records
# what it can see of itself (pg_prepared_statements, pg_settings,
# pg_stat_activity); a superuser session records its own taskforce.context
# while logged in.  Finally the server log (default logging settings), the
# security events and a pg_dump of the database are searched.  Each token,
# its payload and its signature must appear in none of them.
#
# Positive controls show the search can succeed: a token written into the
# query text (-M simple) does appear in B's pg_stat_activity, and, when that
# login fails, in the server log.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

PORT=55531
NAP=3     # seconds session A spends in each observed statement
IDLE=4    # seconds session A stays connected and idle after logging in
DB=app
APP=app_user

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tf-privacy.XXXXXX")
bg_pid=""
cleanup() {
	if [ -n "$bg_pid" ] && kill -0 "$bg_pid" 2>/dev/null; then
		kill "$bg_pid" 2>/dev/null || true
		wait "$bg_pid" 2>/dev/null || true
	fi
	tf_stop_instance "$tmp"
	rm -rf "$tmp"
}
trap cleanup EXIT

# Never prints a token or the server log: a failure names what leaked where.
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

command -v pgbench >/dev/null || fail "pgbench not found"

checks=0
ok() {
	checks=$((checks + 1))
	echo "ok: $*"
}

# Superuser queries, and session B (the application role, like A).
q() { tf_psql "$tmp" "$PORT" -d "$DB" -At "$@"; }
bpsql() { psql -X -q -At -h "$tmp" -p "$PORT" -U "$APP" -d "$DB" "$@"; }

# Secrets: the tokens that go only into bind parameters, each searched for
# whole and by its payload and signature.
secrets=()
add_secret() {
	secrets+=("$1" "$(echo "$1" | cut -d. -f2)" "$(echo "$1" | cut -d. -f3)")
}

# assert_clean WHAT FILE: no secret occurs in FILE.
assert_clean() {
	local what=$1 file=$2 s
	for s in "${secrets[@]}"; do
		if grep -qF -- "$s" "$file"; then
			fail "$what contains a token passed as a bind parameter"
		fi
	done
	ok "$what: no token"
}

# wait_for_a WHAT CONDITION: waits until session A's row of pg_stat_activity
# meets CONDITION.
wait_for_a() {
	local n
	for _ in $(seq 1 150); do
		n=$(bpsql -c "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'privacy-a' AND ($2)")
		[ "$n" -gt 0 ] && return 0
		kill -0 "$bg_pid" 2>/dev/null || break
		sleep 0.1
	done
	fail "session A never reached: $1"
}

# snapshot NAME: every row of pg_stat_activity as session B sees it.
snapshot() {
	bpsql -F ' | ' -c "SELECT pid, usename, application_name, state, query FROM pg_stat_activity" \
		>"$tmp/$1.txt"
}

# run_a MODE SCRIPT TOKEN [ROLE]: starts pgbench as session A in the background.
run_a() {
	PGAPPNAME=privacy-a pgbench -n -h "$tmp" -p "$PORT" -U "${4:-$APP}" -c 1 -t 1 \
		-M "$1" -f "$2" -D tok="$3" "$DB" >"$tmp/pgbench-$1.out" 2>&1 &
	bg_pid=$!
}

# finish_a MODE: waits for session A; it must have committed its one transaction.
finish_a() {
	local status=0
	wait "$bg_pid" || status=$?
	bg_pid=""
	[ "$status" = 0 ] || fail "session A (pgbench -M $1) exited with status $status: $(grep -v '^pgbench' "$tmp/pgbench-$1.out" | head -n 5)"
	grep -q "number of transactions actually processed: 1/1" "$tmp/pgbench-$1.out" ||
		fail "session A (pgbench -M $1) did not complete its transaction"
}

echo "== starting PostgreSQL on 127.0.0.1:$PORT (default logging settings)"
tf_start_instance "$tmp" "$PORT" || fail "could not start PostgreSQL"
tf_psql "$tmp" "$PORT" -d postgres -c "CREATE DATABASE $DB" >/dev/null || fail "create database"
# Record every login's success event (not only a token's first use in the
# hour), so that each is searched for the token.
tf_psql "$tmp" "$PORT" -d postgres -c "ALTER SYSTEM SET taskforce.auth_success_event_interval = 0" \
	-c "SELECT pg_reload_conf()" >/dev/null || fail "setting taskforce.auth_success_event_interval"

echo "== setup: tenant, user, issuer, HS256 key, application role $APP"
q >/dev/null <<SQL || fail "setup SQL"
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
SELECT * FROM taskforce.setup_roles();
CREATE ROLE $APP LOGIN IN ROLE taskforce_app;
SELECT taskforce.create_tenant('privacy', 'Privacy');
SELECT taskforce.create_user('alice', 'alice', tenant_id => 'privacy');
SELECT taskforce.grant_role('alice', 'operator', tenant_id => 'privacy');
SELECT taskforce.configure_jwt_issuer('https://idp.example.com', '{taskforce-api}', '{HS256}');
SELECT taskforce.add_jwt_key('privacy-key', 'https://idp.example.com', 'HS256', gen_random_bytes(32));
-- What session A records about itself (no tenant column: not isolated).
CREATE TABLE public.privacy_probe (source text NOT NULL, content text);
GRANT INSERT ON public.privacy_probe TO $APP;
SQL

# mint CLAIMS: a fresh token for alice, made distinctive by a random jti.
mint() {
	q -c "SELECT taskforce.mint_jwt(
	          '{\"sub\": \"alice\", \"tenant_id\": \"privacy\", \"aud\": \"taskforce-api\"}'::jsonb
	          || jsonb_build_object('jti', 'privacy-' || gen_random_uuid()) || '$1'::jsonb,
	          'privacy-key')"
}
token_extended=$(mint '{}') || fail "minting"
token_prepared=$(mint '{}') || fail "minting"
token_failing=$(mint '{"aud": "other-api"}') || fail "minting"
token_superuser=$(mint '{}') || fail "minting"
control_visible=$(mint '{}') || fail "minting"
control_failing=$(mint '{"aud": "other-api"}') || fail "minting"
for t in "$token_extended" "$token_prepared" "$token_failing" "$token_superuser"; do
	add_secret "$t"
done
echo "   (tokens of ${#token_extended} bytes, each searched for whole, by payload and by signature)"

cat >"$tmp/login.sql" <<SQL
BEGIN;
SELECT taskforce.authenticate_jwt(:tok) IS NULL AS phase_login, pg_sleep($NAP);
SELECT taskforce.current_user_id() AS phase_later, pg_sleep($NAP);
INSERT INTO public.privacy_probe SELECT 'A: pg_prepared_statements', statement FROM pg_prepared_statements;
INSERT INTO public.privacy_probe SELECT 'A: pg_settings', name || '=' || coalesce(setting, '') FROM pg_settings;
INSERT INTO public.privacy_probe SELECT 'A: pg_stat_activity', query FROM pg_stat_activity;
COMMIT;
SELECT taskforce.authenticate_jwt(:tok, 'session') IS NULL AS phase_idle;
\sleep $IDLE s
SQL

for mode in extended prepared; do
	token_var=token_$mode
	echo "== session A logs in with a bind parameter (pgbench -M $mode); session B ($APP) looks"
	run_a "$mode" "$tmp/login.sql" "${!token_var}"

	wait_for_a "the login statement" "state = 'active' AND query LIKE '%phase_login%'"
	snapshot "$mode-login"
	grep -qF "authenticate_jwt(\$1) IS NULL AS phase_login" "$tmp/$mode-login.txt" ||
		fail "session B cannot see session A's query text, so the search below would prove nothing"
	assert_clean "pg_stat_activity while A runs the login ($mode)" "$tmp/$mode-login.txt"

	bpsql -c "SELECT name, statement FROM pg_prepared_statements" >"$tmp/$mode-b-prepared.txt"
	assert_clean "B's pg_prepared_statements ($mode)" "$tmp/$mode-b-prepared.txt"
	bpsql -c "SELECT name, setting FROM pg_settings" >"$tmp/$mode-b-settings.txt"
	assert_clean "B's pg_settings ($mode)" "$tmp/$mode-b-settings.txt"
	bpsql -v ON_ERROR_STOP=0 >"$tmp/$mode-b-context.txt" 2>&1 <<'SQL'
SELECT current_setting('taskforce.context');
\echo sqlstate=:LAST_ERROR_SQLSTATE
SQL
	grep -q '^sqlstate=42501$' "$tmp/$mode-b-context.txt" ||
		fail "B reading taskforce.context: expected 42501, got: $(cat "$tmp/$mode-b-context.txt")"
	assert_clean "B's current_setting('taskforce.context') (denied, 42501) ($mode)" "$tmp/$mode-b-context.txt"
	bpsql -v ON_ERROR_STOP=0 >"$tmp/$mode-b-events.txt" 2>&1 <<'SQL'
SELECT * FROM taskforce.security_events;
\echo sqlstate=:LAST_ERROR_SQLSTATE
SQL
	grep -q '^sqlstate=42501$' "$tmp/$mode-b-events.txt" ||
		fail "B reading taskforce.security_events: expected 42501, got: $(cat "$tmp/$mode-b-events.txt")"
	assert_clean "taskforce.security_events as $APP (denied, 42501) ($mode)" "$tmp/$mode-b-events.txt"

	wait_for_a "the later statement" "state = 'active' AND query LIKE '%phase_later%'"
	snapshot "$mode-later"
	assert_clean "pg_stat_activity while A runs a later statement of the transaction ($mode)" "$tmp/$mode-later.txt"

	wait_for_a "idle after the login" "state = 'idle' AND query LIKE '%phase_idle%'"
	snapshot "$mode-idle"
	grep -qF "authenticate_jwt(\$1, 'session') IS NULL AS phase_idle" "$tmp/$mode-idle.txt" ||
		fail "session B cannot see the last query of idle session A"
	assert_clean "pg_stat_activity while A is idle, its last query the login ($mode)" "$tmp/$mode-idle.txt"
	finish_a "$mode"
done

q -c "SELECT source || ': ' || coalesce(content, '') FROM public.privacy_probe" >"$tmp/a-probe.txt"
grep -q "^A: pg_prepared_statements: .*authenticate_jwt(\\\$1)" "$tmp/a-probe.txt" ||
	fail "session A's pg_prepared_statements (-M prepared) did not show the login statement"
assert_clean "A's own pg_prepared_statements, pg_settings and pg_stat_activity" "$tmp/a-probe.txt"

echo "== a failed login with a bind parameter (pgbench -M extended)"
echo "SELECT taskforce.authenticate_jwt(:tok) IS NULL AS failing_login;" >"$tmp/failing.sql"
set +e
PGAPPNAME=privacy-a pgbench -n -h "$tmp" -p "$PORT" -U "$APP" -c 1 -t 1 -M extended \
	-f "$tmp/failing.sql" -D tok="$token_failing" "$DB" >"$tmp/pgbench-failing.out" 2>&1
set -e
grep -q "wrong audience" "$tmp/pgbench-failing.out" ||
	fail "the failing login was not refused with wrong audience: $(grep -v '^pgbench' "$tmp/pgbench-failing.out" | head -n 3)"
ok "a login with a token for another audience is refused (wrong audience)"

echo "== a superuser session's own taskforce.context while logged in (pgbench -M prepared)"
cat >"$tmp/superuser.sql" <<'SQL'
BEGIN;
SELECT taskforce.authenticate_jwt(:tok);
INSERT INTO public.privacy_probe SELECT 'superuser: taskforce.context', current_setting('taskforce.context');
COMMIT;
SQL
run_a prepared "$tmp/superuser.sql" "$token_superuser" postgres
finish_a prepared
q -c "SELECT content FROM public.privacy_probe WHERE source = 'superuser: taskforce.context'" >"$tmp/su-context.txt"
[ -s "$tmp/su-context.txt" ] || fail "the superuser session recorded no taskforce.context"
assert_clean "the logged-in session's own taskforce.context" "$tmp/su-context.txt"

echo "== positive controls: tokens in the query text (pgbench -M simple)"
cat >"$tmp/control.sql" <<SQL
SELECT taskforce.authenticate_jwt(':tok') IS NULL AS phase_control, pg_sleep($NAP);
SQL
run_a simple "$tmp/control.sql" "$control_visible"
wait_for_a "the control login" "state = 'active' AND query LIKE '%phase_control%'"
snapshot control
finish_a simple
grep -qF -- "$control_visible" "$tmp/control.txt" ||
	fail "positive control: a token in the query text did not show in pg_stat_activity"
ok "positive control: a token in the query text shows in B's pg_stat_activity"
echo "SELECT taskforce.authenticate_jwt(':tok') IS NULL AS control_failing;" >"$tmp/control-failing.sql"
set +e
pgbench -n -h "$tmp" -p "$PORT" -U "$APP" -c 1 -t 1 -M simple \
	-f "$tmp/control-failing.sql" -D tok="$control_failing" "$DB" >"$tmp/pgbench-control-failing.out" 2>&1
set -e

echo "== the server log, the security events and a dump of the database"
sleep 0.5
grep -qF -- "$control_failing" "$tmp/server.log" ||
	fail "positive control: a failed login's query text did not reach the server log"
ok "positive control: the query text of a failed login is in the server log"
assert_clean "the server log" "$tmp/server.log"
# Authentication events are queued in shared memory; write them now.
q -c "SELECT taskforce.flush_security_events('0')" >/dev/null || fail "flush_security_events"
q -c "SELECT e::text FROM taskforce.security_events AS e" >"$tmp/events.txt"
got=$(q -c "SELECT count(*) FILTER (WHERE outcome = 'success') || ' success, '
                   || count(*) FILTER (WHERE outcome = 'failure') || ' failure'
              FROM taskforce.security_events WHERE method = 'jwt'")
tf_check "jwt events recorded" "6 success, 2 failure" "$got"
assert_clean "taskforce.security_events, read by the superuser" "$tmp/events.txt"
pg_dump -h "$tmp" -p "$PORT" -U postgres "$DB" >"$tmp/dump.sql" 2>"$tmp/dump.err" || fail "pg_dump: $(cat "$tmp/dump.err")"
grep -q "CREATE TABLE public.privacy_probe" "$tmp/dump.sql" || fail "the dump looks incomplete"
assert_clean "a pg_dump of the database" "$tmp/dump.sql"

echo "PASS: tokens passed as bind parameters were found in none of $checks places checked"
