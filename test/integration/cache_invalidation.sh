#!/usr/bin/env bash
# test/integration/cache_invalidation.sh: the per-backend caches hear of
# changes that arrive without ordinary statement triggers.
#
# 1. Logical replication.  A subscriber's apply worker runs with
#    session_replication_role = replica and fires no statement triggers.  A
#    session of the application role in the subscriber database, holding a
#    cached permission and a context, sees a revoke and a suspension made on
#    the publisher from its next transaction once they are applied (0.2.0's
#    statement triggers did not fire there, so it kept both indefinitely).
# 2. A data-only pg_restore --disable-triggers leaves the invalidation
#    triggers ordinary (ENABLE TRIGGER ALL); the statement in
#    docs/identity.md makes them fire always again.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

PORT=55541
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tf-cache-inval.XXXXXX")
checker=""
cleanup() {
	if [ -n "$checker" ] && kill -0 "$checker" 2>/dev/null; then
		kill "$checker" 2>/dev/null || true
		wait "$checker" 2>/dev/null || true
	fi
	tf_stop_instance "$tmp"
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	echo "--- tail of server.log"
	tail -n 30 "$tmp/server.log" 2>/dev/null || true
	exit 1
}
q() { tf_psql "$tmp" "$PORT" -d "$1" -At -c "$2"; }

echo "== starting PostgreSQL on 127.0.0.1:$PORT with wal_level = logical"
tf_start_instance "$tmp" "$PORT" "wal_level = logical" "max_replication_slots = 4" "max_wal_senders = 4"
export PGOPTIONS="-c client_min_messages=warning"

tf_psql "$tmp" "$PORT" -d postgres <<'SQL'
CREATE DATABASE pub;
CREATE DATABASE sub;
CREATE ROLE inval_app LOGIN;
CREATE ROLE inval_mw LOGIN;
SQL
for db in pub sub; do
	tf_psql "$tmp" "$PORT" -d "$db" <<'SQL'
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
GRANT taskforce_app TO inval_app;
GRANT taskforce_admin TO inval_mw;
GRANT inval_app TO inval_mw;
SQL
done
tf_psql "$tmp" "$PORT" -d pub <<'SQL'
SELECT count(*) FROM taskforce.create_tenant('repl-acme', 'Acme');
SELECT count(*) FROM taskforce.create_user('alice', 'alice', tenant_id => 'repl-acme');
SELECT count(*) FROM taskforce.grant_role('alice', 'operator', tenant_id => 'repl-acme');
CREATE PUBLICATION inval_pub FOR TABLE taskforce.tenants, taskforce.users, taskforce.role_grants;
-- The slot is made here: CREATE SUBSCRIPTION cannot make one in its own cluster.
SELECT count(*) FROM pg_create_logical_replication_slot('inval_sub', 'pgoutput');
SQL
q sub "CREATE SUBSCRIPTION inval_sub CONNECTION 'host=$tmp port=$PORT dbname=pub user=postgres'
       PUBLICATION inval_pub WITH (create_slot = false, slot_name = 'inval_sub')" >/dev/null

# Waits until the subscriber database answers the query with the value.
wait_for() {
	local sql=$1 want=$2 i
	for i in $(seq 1 100); do
		[ "$(q sub "$sql")" = "$want" ] && return 0
		sleep 0.2
	done
	fail "the subscriber never answered '$want' to: $sql (got '$(q sub "$sql")')"
}
wait_for "SELECT count(*) FROM taskforce.role_grants WHERE tenant_id = 'repl-acme'" 1
echo "ok: the subscriber has alice's grant"

# The checking session: the application role in a session-scoped context of
# alice, established by the middleware; one line per check, on request.
mkfifo "$tmp/requests"
/usr/bin/python3 - "$PORT" "$tmp/requests" >"$tmp/checks" 2>&1 <<'PY' &
import sys, psycopg
port, requests = sys.argv[1:3]
conn = psycopg.connect(f"host=127.0.0.1 port={port} user=inval_mw dbname=sub", autocommit=True)
conn.execute("SELECT taskforce.act_as('repl-acme', 'alice', scope => 'session')")
conn.execute("SET ROLE inval_app")
with open(requests) as r:
    for line in r:
        try:
            row = conn.execute("SELECT current_user, taskforce.current_tenant(),"
                               " taskforce.has_permission('agent:execute')").fetchone()
            print("/".join(str(v) for v in row), flush=True)
        except psycopg.Error as e:
            print(f"ERROR {e.sqlstate}: {e.diag.message_primary}", flush=True)
PY
checker=$!
exec 3>"$tmp/requests"
check() {
	local n
	n=$(($(wc -l <"$tmp/checks") + 1))
	echo check >&3
	for i in $(seq 1 100); do
		[ "$(wc -l <"$tmp/checks")" -ge "$n" ] && break
		sleep 0.1
	done
	sed -n "${n}p" "$tmp/checks"
}

tf_check "before: alice may execute agents" "inval_app/repl-acme/True" "$(check)"

echo "== a revoke on the publisher, applied by the subscriber"
q pub "SELECT taskforce.revoke_role('alice', 'operator', 'repl-acme')" >/dev/null
wait_for "SELECT count(*) FROM taskforce.role_grants WHERE tenant_id = 'repl-acme'" 0
tf_check "after the revoke is applied: the cached permission is gone" "inval_app/repl-acme/False" "$(check)"

echo "== a suspension on the publisher, applied by the subscriber"
q pub "SELECT count(*) FROM taskforce.suspend_tenant('repl-acme', 'unpaid')" >/dev/null
wait_for "SELECT status FROM taskforce.tenants WHERE tenant_id = 'repl-acme'" suspended
tf_check "after the suspension is applied: the context is refused" \
	"ERROR 28000: the context's tenant \"repl-acme\" is suspended" "$(check)"
exec 3>&-
wait "$checker" || fail "the checking session failed: $(cat "$tmp/checks")"
checker=""
q sub "DROP SUBSCRIPTION inval_sub" >/dev/null

echo "== a data-only pg_restore --disable-triggers"
tf_psql "$tmp" "$PORT" -d postgres -c "CREATE DATABASE restored"
tf_psql "$tmp" "$PORT" -d restored -c "CREATE EXTENSION taskforce CASCADE"
pg_dump -h "$tmp" -p "$PORT" -U postgres -d pub --data-only -Fc -t taskforce.tenants -f "$tmp/data.dump"
pg_restore -h "$tmp" -p "$PORT" -U postgres -d restored --data-only --disable-triggers "$tmp/data.dump"
enabled="SELECT string_agg(tgname || '=' || tgenabled::text, ' ' ORDER BY tgname) FROM pg_trigger
          WHERE tgrelid = 'taskforce.tenants'::regclass AND tgname LIKE 'invalidate_caches%'"
tf_check "after the restore the invalidation triggers are ordinary ones" \
	"invalidate_caches=O invalidate_caches_on_status=O invalidate_caches_on_truncate=O" "$(q restored "$enabled")"
# The remedy, exactly as docs/identity.md gives it.
sed -n '/^DO \$\$$/,/^\$\$;$/p' "$(dirname "$0")/../../docs/identity.md" >"$tmp/remedy.sql"
grep -q "ENABLE ALWAYS TRIGGER" "$tmp/remedy.sql" || fail "no remedy found in docs/identity.md"
tf_psql "$tmp" "$PORT" -d restored -f "$tmp/remedy.sql"
tf_check "after the statement in docs/identity.md they fire always" \
	"invalidate_caches=A invalidate_caches_on_status=A invalidate_caches_on_truncate=A" "$(q restored "$enabled")"
tf_check "every invalidation trigger of the restored database fires always" "0" \
	"$(q restored "SELECT count(*) FROM pg_trigger WHERE tgname LIKE 'invalidate_caches%' AND tgenabled <> 'A'")"
echo "ok"
