#!/usr/bin/env bash
# test/integration/replica.sh: authentication on a hot standby.  A primary
# and a streaming replica on loopback (made with pg_basebackup); on the
# replica, as an application role, JWT and API-key authentication work and
# the reads that follow see only the token's tenant; password
# authentication works too (lockout counts in the replica's own shared
# memory).  A standby cannot write, so the security events of its logins
# go to its server log.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

primary=$(mktemp -d)
standby=$(mktemp -d)
pport=55542
sport=55543
cleanup() {
	tf_stop_instance "$standby"
	tf_stop_instance "$primary"
	rm -rf "$primary" "$standby"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

tf_start_instance "$primary" "$pport"
p() { tf_psql "$primary" "$pport" -d postgres -At "$@"; }
p >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE replica_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM (VALUES ('rp-a'), ('rp-b')) AS v(t), LATERAL taskforce.create_tenant(v.t, v.t);
SELECT count(*) FROM (VALUES ('rp-a'), ('rp-b')) AS v(t),
       LATERAL taskforce.create_user('alice', 'alice', tenant_id => v.t);
SELECT taskforce.set_password('alice', 'Replica-Horse-7!', 'rp-a');
SELECT count(*) FROM taskforce.configure_jwt_issuer('https://idp.replica.test', ARRAY['taskforce'], ARRAY['HS256']);
SELECT taskforce.add_jwt_key('rp-hs', 'https://idp.replica.test', 'HS256', sha256('replica test key'));
CREATE TABLE public.notes (
    tenant_id text NOT NULL,
    note_id   integer NOT NULL,
    body      text NOT NULL,
    PRIMARY KEY (tenant_id, note_id));
SELECT taskforce.enable_tenant_isolation('public.notes');
GRANT SELECT ON public.notes TO taskforce_app;
INSERT INTO public.notes VALUES ('rp-a', 1, 'a1'), ('rp-a', 2, 'a2'), ('rp-b', 1, 'b1');
SQL
token=$(p -c "SELECT taskforce.mint_jwt('{\"sub\": \"alice\", \"tenant_id\": \"rp-a\", \"aud\": \"taskforce\"}', 'rp-hs', interval '1 hour')")
api_key=$(p -c "SELECT api_key FROM taskforce.create_api_key('alice', 'replica key', tenant_id => 'rp-b')")

echo "== a streaming replica made with pg_basebackup"
pg_basebackup -h 127.0.0.1 -p "$pport" -U postgres -D "$standby/data" -R -X stream -c fast >/dev/null 2>&1 ||
	fail "pg_basebackup"
{
	echo "port = $sport"
	echo "unix_socket_directories = '$standby'"
	echo "hot_standby = on"
} >>"$standby/data/postgresql.conf"
pg_ctl -D "$standby/data" -l "$standby/server.log" -w -t 60 start >/dev/null || {
	cat "$standby/server.log"
	fail "starting the standby"
}
s() { tf_psql "$standby" "$sport" -d postgres -At "$@"; }
tf_check "the replica is in recovery" "t" "$(s -c "SELECT pg_is_in_recovery()")"
tf_check "the replica streams from the primary" "streaming" \
	"$(p -c "SELECT state FROM pg_stat_replication")"
writers="SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskforce event writer'"
tf_check "the event writer runs on the primary" "1" "$(p -c "$writers")"
tf_check "no event writer on the replica (it cannot write; its events go to its log)" "0" "$(s -c "$writers")"
sealers="SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'taskforce audit sealer'"
tf_check "the audit sealer runs on the primary" "1" "$(p -c "$sealers")"
tf_check "no audit sealer on the replica (it starts once recovery has finished)" "0" "$(s -c "$sealers")"

# app_on_replica SQL...: runs statements as the application role on the replica.
# psql reads them from stdin, so that :'token' and :'api_key' are bound.
app_on_replica() {
	printf '%s;\n' "$@" |
		psql -X -q -At -v VERBOSITY=verbose -v ON_ERROR_STOP=1 -h "$standby" -p "$sport" -U replica_app \
			-d postgres -v token="$token" -v api_key="$api_key" 2>&1
}

echo "== on the replica, as the application role"
got=$(app_on_replica "SELECT count(*) FROM public.notes") || fail "reading without a context: $got"
tf_check "rows visible without a context" "0" "$got"

got=$(app_on_replica "BEGIN" "SELECT taskforce.authenticate_jwt(:'token')" \
	"SELECT taskforce.current_tenant() || '/' || taskforce.current_user_id() || ' ' || string_agg(body, ',' ORDER BY note_id) FROM public.notes" \
	"COMMIT") || fail "JWT authentication on the replica: $got"
tf_check "JWT on the replica: context and isolated rows" "rp-a/alice a1,a2" "$(echo "$got" | tail -n 1)"

got=$(app_on_replica "BEGIN" "SELECT taskforce.authenticate_api_key(:'api_key')" \
	"SELECT taskforce.current_tenant() || '/' || taskforce.current_user_id() || ' ' || string_agg(body, ',' ORDER BY note_id) FROM public.notes" \
	"COMMIT") || fail "API-key authentication on the replica: $got"
tf_check "API key on the replica: context and isolated rows" "rp-b/alice b1" "$(echo "$got" | tail -n 1)"

got=$(app_on_replica "BEGIN" "SELECT taskforce.authenticate_password('rp-a', 'alice', 'Replica-Horse-7!')" \
	"SELECT taskforce.current_tenant() || '/' || taskforce.current_user_id() || ' ' || string_agg(body, ',' ORDER BY note_id) FROM public.notes" \
	"COMMIT") || fail "password authentication on the replica: $got"
tf_check "password on the replica: context and isolated rows" "rp-a/alice a1,a2" "$(echo "$got" | tail -n 1)"

got=$(app_on_replica "SELECT taskforce.authenticate_password('rp-a', 'alice', 'Wrong-Horse-7!')" || true)
grep <<<"$got" -q "ERROR:  28P01: authentication failed" ||
	fail "a wrong password on the replica: expected 28P01, got: $got"
echo "ok: a wrong password on the replica is refused with 28P01"

got=$(s -c "SELECT taskforce.flush_security_events('0')")
tf_check "flush_security_events on the replica writes nothing" "0" "$got"
sleep 0.2
for what in '"method":"jwt","event":"authentication","outcome":"success"' \
	'"method":"api_key","event":"authentication","outcome":"success"' \
	'"method":"password","event":"authentication","outcome":"success"' \
	'"method":"password","event":"authentication","outcome":"failure","reason":"wrong password"'; do
	grep "taskforce security event on a hot standby" -A1 "$standby/server.log" | grep -qF -- "$what" ||
		fail "the replica's server log lacks the event ($what)"
done
echo "ok: the replica's server log holds each login's security event"
# psql puts the token and key into the query text here; the event messages
# still do not show it (they hide the statement).
grep -qF -- "$token" "$standby/server.log" && fail "the replica's server log contains the token"
grep -qF -- "$api_key" "$standby/server.log" && fail "the replica's server log contains the API key"
echo "ok: the replica's server log holds neither the token nor the API key"
