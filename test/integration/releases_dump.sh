#!/usr/bin/env bash
# test/integration/releases_dump.sh: environments and releases survive
# pg_dump -Fc / pg_restore into a new database: releases in every state
# (draft, released, rolled back; the state machine's trigger must let the
# restore load them), each environment's current release, the version
# order, and the lifecycle goes on there for an application role.
set -euo pipefail
source "$(dirname "$0")/../lib.sh"

PORT=55671

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tf-releases-dump.XXXXXX")
cleanup() {
	tf_stop_instance "$tmp"
	rm -rf "$tmp"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	[ -f "$tmp/server.log" ] && { echo "--- tail of server.log" >&2; tail -n 20 "$tmp/server.log" >&2; }
	exit 1
}
# q DB SQL: one query as the superuser, unaligned, fields separated by |.
q() { tf_psql "$tmp" "$PORT" -d "$1" -At -F '|' -c "$2"; }

echo "== starting PostgreSQL on 127.0.0.1:$PORT"
tf_start_instance "$tmp" "$PORT" || fail "could not start PostgreSQL"
tf_psql "$tmp" "$PORT" -d postgres -c "CREATE DATABASE src" -c "CREATE DATABASE dst" >/dev/null \
	|| fail "create databases"

echo "== building src: a project with two environments and releases in every state"
tf_psql "$tmp" "$PORT" -d src -v ON_ERROR_STOP=1 >/dev/null <<'SQL' || fail "setup of src"
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
SELECT * FROM taskforce.setup_roles();
CREATE ROLE rel_app LOGIN IN ROLE taskforce_app;
CREATE ROLE rel_mw LOGIN IN ROLE taskforce_admin;
GRANT rel_app TO rel_mw;
SELECT taskforce.create_tenant('acme', 'Acme');
SELECT taskforce.create_role('release_manager', ARRAY['release:manage'], tenant_id => 'acme');
SELECT taskforce.create_user('rita', 'rita', tenant_id => 'acme');
SELECT taskforce.grant_role('rita', 'release_manager', tenant_id => 'acme');
SELECT taskforce.create_project('web', 'Web', visibility => 'public', tenant_id => 'acme');
SELECT taskforce.create_environment('web', 'staging', 'Staging', tenant_id => 'acme');
SELECT taskforce.create_environment('web', 'prod', 'Production', 'https://web.example', tenant_id => 'acme');
SELECT taskforce.create_release('web', 'r1', '1.0.0', tenant_id => 'acme');
SELECT taskforce.create_release('web', 'r2', '1.1.0', tenant_id => 'acme');
SELECT taskforce.create_release('web', 'r3', '1.2.0-rc.1', tenant_id => 'acme');
SELECT taskforce.create_release('web', 'r4', '1.10.0', tenant_id => 'acme');
SELECT taskforce.release_release('web', 'r1', 'prod', tenant_id => 'acme');
SELECT taskforce.release_release('web', 'r2', 'prod', tenant_id => 'acme');
SELECT taskforce.release_release('web', 'r3', 'staging', tenant_id => 'acme');
SELECT taskforce.roll_back_release('web', 'r2', 'broken', tenant_id => 'acme');
SQL

rows="SELECT string_agg(concat_ws(',', release_id, version, encode(version_key, 'hex'), status, environment_id,
                                 released_at IS NOT NULL, rolled_back_at IS NOT NULL), ' ' ORDER BY version_key)
        FROM taskforce.releases;"
envs="SELECT string_agg(concat_ws(',', environment_id, name, url, status, current_release_id, deployed_at),
                       ' ' ORDER BY environment_id) FROM taskforce.environments;"
src_rows=$(q src "$rows")
src_envs=$(q src "$envs")
[ -n "$src_rows" ] || fail "no releases in src"

echo "== pg_dump -Fc, pg_restore into dst"
pg_dump -h "$tmp" -p "$PORT" -U postgres -Fc -f "$tmp/src.dump" src 2>/dev/null || fail "pg_dump"
pg_restore -h "$tmp" -p "$PORT" -U postgres -d dst --exit-on-error "$tmp/src.dump" 2>"$tmp/restore.err" \
	|| fail "pg_restore: $(cat "$tmp/restore.err")"

echo "== the releases and environments are those of src"
[ "$(q dst "$rows")" = "$src_rows" ] || fail "releases differ: src $src_rows, dst $(q dst "$rows")"
[ "$(q dst "$envs")" = "$src_envs" ] || fail "environments differ: src $src_envs, dst $(q dst "$envs")"
[ "$(q dst "SELECT machine FROM taskforce.state_machine_attachments WHERE tbl = 'taskforce.releases'::regclass")" = release ] \
	|| fail "the release machine is not attached in dst"

echo "== the lifecycle goes on in dst, for rita as the application role"
out=$(tf_psql "$tmp" "$PORT" -d dst -U rel_mw -At -v ON_ERROR_STOP=1 <<'SQL'
BEGIN;
SELECT taskforce.act_as('acme', 'rita') \gset
SET LOCAL ROLE rel_app;
SELECT status FROM taskforce.release_release('web', 'r4', 'prod');
SELECT current_release_id FROM taskforce.environments WHERE environment_id = 'prod';
SELECT status FROM taskforce.roll_back_release('web', 'r4');
SELECT current_release_id FROM taskforce.environments WHERE environment_id = 'prod';
COMMIT;
SQL
) || fail "the lifecycle in dst: $out"
[ "$(echo $out)" = "released r4 rolled_back r1" ] || fail "lifecycle in dst: $out"
# A rolled-back release stays terminal after the restore.
err=$(q dst "SELECT taskforce.release_release('web', 'r2', 'staging', tenant_id => 'acme')" 2>&1) \
	&& fail "a rolled-back release was released again in dst"
echo "$err" | grep -q 'is a terminal state' || fail "unexpected error: $err"

echo "ok: environments and releases survive pg_dump/pg_restore, and their machine still guards them"
