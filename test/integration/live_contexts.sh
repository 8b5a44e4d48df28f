#!/usr/bin/env bash
# test/integration/live_contexts.sh: live_contexts shows the contexts of
# backends connected to the caller's database only.  Tenants are per
# database: an administrator (or a tenant's administrator) of one database
# must not see who is connected to another, even under the same tenant id.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55611
trap 'kill "$holder" 2>/dev/null || true; tf_stop_instance "$dir"; rm -rf "$dir"' EXIT
holder=

fail() {
	echo "FAIL: $*"
	exit 1
}

tf_start_instance "$dir" "$port"
for db in db_a db_b; do
	tf_psql "$dir" "$port" -d postgres -c "CREATE DATABASE $db" >/dev/null
	tf_psql "$dir" "$port" -d "$db" -c "CREATE EXTENSION taskforce CASCADE" \
		-c "SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme')" >/dev/null
done

# A session-scoped context in db_b, held open.
tf_psql "$dir" "$port" -d db_b \
	-c "SELECT taskforce.act_as('acme', 'alice', scope => 'session')" \
	-c "SELECT pg_sleep(60)" >/dev/null 2>&1 &
holder=$!

count() { tf_psql "$dir" "$port" -d "$1" -At -c "SELECT count(*) FROM taskforce.live_contexts WHERE user_id = 'alice'"; }
for _ in $(seq 1 100); do
	[ "$(count db_b)" = 1 ] && break
	sleep 0.1
done
tf_check "db_b sees the context of its own backend" "1" "$(count db_b)"
tf_check "db_a sees no context of db_b's backends, same tenant id" "0" "$(count db_a)"
tf_check "db_a's counts per tenant leave db_b out" "" \
	"$(tf_psql "$dir" "$port" -d db_a -At -c "SELECT tenant_id || '=' || contexts FROM taskforce.live_context_counts")"
echo "ok: live_contexts is per database"
