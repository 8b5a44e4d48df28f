#!/usr/bin/env bash
# test/integration/no_preload.sh: without shared_preload_libraries (and no
# operator secret) establishing a context fails with a hint naming the
# setting, and nothing can be established; with an operator-supplied
# taskforce.context_secret it works.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55521
trap 'tf_stop_instance "$dir"; rm -rf "$dir"' EXIT

tf_start_instance "$dir" "$port"
# tf_start_instance preloads taskforce; take that back for this test.
echo "shared_preload_libraries = ''" >>"$dir/data/postgresql.conf"
pg_ctl -D "$dir/data" -l "$dir/server.log" -w restart >/dev/null

tf_psql "$dir" "$port" -d postgres -c "CREATE EXTENSION taskforce CASCADE" \
	-c "SELECT count(*) FROM taskforce.create_tenant('np-a', 'A')" >/dev/null

# Who is connected is recorded only in shared memory: the view says so.
out=$(psql -X -h "$dir" -p "$port" -U postgres -d postgres -v VERBOSITY=verbose \
	-c "SELECT * FROM taskforce.live_contexts" 2>&1 || true)
grep <<<"$out" -q "ERROR:  55000: live contexts are only recorded when taskforce is preloaded" &&
	grep <<<"$out" -q "HINT:  Add taskforce to shared_preload_libraries" || {
	echo "FAIL: expected live_contexts to name shared_preload_libraries, got:"
	echo "$out"
	exit 1
}

out=$(psql -X -h "$dir" -p "$port" -U postgres -d postgres -v VERBOSITY=verbose \
	-c "BEGIN" -c "SELECT taskforce.act_as('np-a', 'alice')" 2>&1 || true)
grep <<<"$out" -q "ERROR:  55000: taskforce must be loaded through shared_preload_libraries" || {
	echo "FAIL: expected the shared_preload_libraries error, got:"
	echo "$out"
	exit 1
}
grep <<<"$out" -q "HINT:  Add taskforce to shared_preload_libraries" || {
	echo "FAIL: expected a hint naming shared_preload_libraries, got:"
	echo "$out"
	exit 1
}
echo "ok: without preloading, act_as fails with 55000 and a hint naming shared_preload_libraries"

# An operator secret replaces the generated one and needs no preloading.
echo "taskforce.context_secret = '$(head -c 48 /dev/urandom | base64 | tr -d '/+=' | head -c 48)'" \
	>>"$dir/data/postgresql.conf"
pg_ctl -D "$dir/data" -l "$dir/server.log" -w reload >/dev/null
sleep 1
tenant=$(tf_psql "$dir" "$port" -d postgres -At \
	-c "BEGIN" -c "SELECT taskforce.act_as('np-a', 'alice')" \
	-c "SELECT taskforce.current_tenant()" -c "COMMIT" | tail -n 1)
[ "$tenant" = "np-a" ] || {
	echo "FAIL: with taskforce.context_secret set, expected context np-a, got '$tenant'"
	exit 1
}
echo "ok: with taskforce.context_secret set, act_as works without preloading"

short=$(psql -X -h "$dir" -p "$port" -U postgres -d postgres \
	-c "LOAD 'taskforce'" -c "ALTER SYSTEM SET taskforce.context_secret = 'short'" 2>&1 || true)
grep <<<"$short" -q "at least 32 characters" || {
	echo "FAIL: a short secret should be refused, got: $short"
	exit 1
}
echo "ok: a secret shorter than 32 characters is refused"

# Without the shared-memory queue, a token login's success event is written
# at once (as the extension's owner), and password logins, which need the
# shared-memory counters, are refused.
tf_psql "$dir" "$port" -d postgres >/dev/null <<'SQL'
SET client_min_messages = warning;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE np_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_user('alice', 'alice', tenant_id => 'np-a');
SELECT taskforce.set_password('alice', 'No-Preload-Horse-1!', 'np-a');
SELECT count(*) FROM taskforce.configure_jwt_issuer('https://idp.np.test', ARRAY['taskforce'], ARRAY['HS256']);
SELECT taskforce.add_jwt_key('np-hs', 'https://idp.np.test', 'HS256', sha256('no preload key'));
SQL
token=$(tf_psql "$dir" "$port" -d postgres -At -c "SELECT taskforce.mint_jwt('{\"sub\": \"alice\", \"tenant_id\": \"np-a\", \"aud\": \"taskforce\"}', 'np-hs')")
got=$(printf '%s\n' "BEGIN;" "SELECT taskforce.authenticate_jwt(:'token');" \
	"SELECT taskforce.current_user_id();" "COMMIT;" |
	psql -X -q -At -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U np_app -d postgres -v token="$token" 2>&1) || {
	echo "FAIL: authenticate_jwt without preloading: $got"
	exit 1
}
[ "$(echo "$got" | tail -n 1)" = "alice" ] || {
	echo "FAIL: authenticate_jwt without preloading: expected alice, got: $got"
	exit 1
}
events=$(tf_psql "$dir" "$port" -d postgres -At -c "SELECT count(*) FROM taskforce.security_events
	WHERE method = 'jwt' AND outcome = 'success' AND user_id = 'alice'")
[ "$events" = 1 ] || {
	echo "FAIL: expected the JWT login's success event written at once, got $events"
	exit 1
}
echo "ok: without preloading, authenticate_jwt works and its success event is written at once"
out=$(psql -X -h "$dir" -p "$port" -U np_app -d postgres -v VERBOSITY=verbose \
	-c "SELECT taskforce.authenticate_password('np-a', 'alice', 'No-Preload-Horse-1!')" 2>&1 || true)
grep <<<"$out" -q "ERROR:  55000: taskforce must be loaded through shared_preload_libraries to count failed passwords" || {
	echo "FAIL: expected password logins refused with 55000 without preloading, got:"
	echo "$out"
	exit 1
}
echo "ok: without preloading, authenticate_password is refused with 55000 (lockout needs shared memory)"

# Without preloading there is no background sealer (whatever
# taskforce.audit_seal_interval says): audited writes stay unsealed until
# seal_audit() is called (by the application or pg_cron), which then works.
tf_psql "$dir" "$port" -d postgres >/dev/null <<'SQL'
SET client_min_messages = warning;
ALTER SYSTEM SET taskforce.audit_seal_interval = '100ms';
SELECT pg_reload_conf();
CREATE TABLE public.np_audited (id integer PRIMARY KEY);
SELECT taskforce.enable_audit('public.np_audited');
INSERT INTO public.np_audited VALUES (1), (2);
SQL
sleep 1
got=$(tf_psql "$dir" "$port" -d postgres -At -c "SELECT (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskforce audit sealer')
	|| ' ' || (SELECT count(*) FROM taskforce.audit_log WHERE object = 'public.np_audited'
	             AND NOT EXISTS (SELECT FROM taskforce.audit_sealed_transactions AS s WHERE s.txid = audit_log.txid))")
[ "$got" = "0 2" ] || {
	echo "FAIL: without preloading expected no sealer and 2 unsealed entries, got '$got'"
	exit 1
}
got=$(tf_psql "$dir" "$port" -d postgres -At -c "SELECT entries_sealed >= 2 FROM taskforce.seal_audit()" \
	-c "SELECT string_agg(kind, ',') FROM taskforce.verify_audit()")
[ "$got" = "$(printf 't\nok')" ] || {
	echo "FAIL: without preloading expected seal_audit() to seal and verify_audit ok, got '$got'"
	exit 1
}
echo "ok: without preloading no sealer runs; seal_audit() seals by hand and verify_audit is ok"
