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

out=$(psql -X -h "$dir" -p "$port" -U postgres -d postgres -v VERBOSITY=verbose \
	-c "BEGIN" -c "SELECT taskforce.act_as('np-a', 'alice')" 2>&1 || true)
echo "$out" | grep -q "ERROR:  55000: taskforce must be loaded through shared_preload_libraries" || {
	echo "FAIL: expected the shared_preload_libraries error, got:"
	echo "$out"
	exit 1
}
echo "$out" | grep -q "HINT:  Add taskforce to shared_preload_libraries" || {
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
echo "$short" | grep -q "at least 32 characters" || {
	echo "FAIL: a short secret should be refused, got: $short"
	exit 1
}
echo "ok: a secret shorter than 32 characters is refused"
