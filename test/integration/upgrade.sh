#!/usr/bin/env bash
# test/integration/upgrade.sh: a database created with taskforce 0.1.0 and
# upgraded step by step with ALTER EXTENSION UPDATE ends up with exactly the
# objects (and grants) of a fresh install of the current version, keeps its
# data, and works at once for an application role made by setup_roles().
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55523
trap 'tf_stop_instance "$dir"; rm -rf "$dir"' EXIT
fail() {
	echo "FAIL: $*"
	exit 1
}

tf_start_instance "$dir" "$port"
version=$(sed -n "s/^default_version = '\(.*\)'/\1/p" "$(dirname "$0")/../../taskforce.control")

# Every object of the extension, with its full definition.
describe_extension() {
	tf_psql "$dir" "$port" -d "$1" -At <<'SQL'
SELECT pg_describe_object(d.classid, d.objid, d.objsubid) || ' | ' || coalesce(
         CASE d.classid
           WHEN 'pg_proc'::regclass THEN pg_get_functiondef(d.objid)
                || ' | ' || coalesce(array_to_string(ARRAY(SELECT unnest(p.proacl)::text ORDER BY 1), ','), 'default acl')
           WHEN 'pg_class'::regclass THEN (
             SELECT string_agg(a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
                               || CASE WHEN a.attnotnull THEN ' not null' ELSE '' END
                               || coalesce(' default ' || pg_get_expr(ad.adbin, ad.adrelid), ''),
                               ', ' ORDER BY a.attnum)
               FROM pg_attribute a
               LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
              WHERE a.attrelid = d.objid AND a.attnum > 0 AND NOT a.attisdropped)
                || ' | ' || coalesce(array_to_string(ARRAY(SELECT unnest(c.relacl)::text ORDER BY 1), ','), 'default acl')
                || ' | rls=' || c.relrowsecurity || ' force=' || c.relforcerowsecurity
           WHEN 'pg_event_trigger'::regclass THEN (
             SELECT evtevent || ' ' || evtfoid::regprocedure || ' enabled=' || evtenabled::text
                    || ' tags=' || coalesce(array_to_string(evttags, ','), 'all')
               FROM pg_event_trigger WHERE oid = d.objid)
         END, '')
  FROM pg_depend d
  LEFT JOIN pg_proc p ON d.classid = 'pg_proc'::regclass AND p.oid = d.objid
  LEFT JOIN pg_class c ON d.classid = 'pg_class'::regclass AND c.oid = d.objid
 WHERE d.refclassid = 'pg_extension'::regclass
   AND d.refobjid = (SELECT oid FROM pg_extension WHERE extname = 'taskforce')
   AND d.deptype = 'e'
UNION ALL
-- Constraints, indexes, triggers and policies on the extension's tables.
SELECT 'constraint ' || conrelid::regclass || '.' || conname || ' | ' || pg_get_constraintdef(oid)
  FROM pg_constraint WHERE connamespace = 'taskforce'::regnamespace
UNION ALL
SELECT 'index ' || indexrelid::regclass || ' | ' || pg_get_indexdef(indexrelid)
  FROM pg_index WHERE indrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'taskforce'::regnamespace)
UNION ALL
SELECT 'trigger ' || tgrelid::regclass || '.' || tgname || ' | ' || pg_get_triggerdef(oid)
       || ' | enabled=' || tgenabled::text
  FROM pg_trigger WHERE NOT tgisinternal
   AND tgrelid IN (SELECT oid FROM pg_class WHERE relnamespace = 'taskforce'::regnamespace)
UNION ALL
SELECT 'policy ' || schemaname || '.' || tablename || '.' || policyname || ' | ' || cmd || ' | '
       || coalesce(qual, '') || ' | ' || coalesce(with_check, '')
  FROM pg_policies WHERE schemaname = 'taskforce'
UNION ALL
SELECT 'config dump ' || unnest(extconfig)::regclass || ' | '
       || (SELECT string_agg(c, ',') FROM unnest(extcondition) c)
  FROM pg_extension WHERE extname = 'taskforce'
ORDER BY 1
SQL
}

tf_psql "$dir" "$port" -d postgres -c "CREATE DATABASE fresh" -c "CREATE DATABASE upgraded"
tf_psql "$dir" "$port" -d fresh -c "CREATE EXTENSION taskforce CASCADE" \
	-c "SELECT count(*) FROM taskforce.setup_roles()" >/dev/null

# A 0.1.0 database in use: a tenant and an isolated application table.
(tf_psql "$dir" "$port" -d upgraded <<'SQL'
CREATE EXTENSION taskforce VERSION '0.1.0' CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE up_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('up-acme', 'Acme', 'enterprise');
CREATE TABLE public.notes (tenant_id text NOT NULL, id int NOT NULL, body text,
                           PRIMARY KEY (tenant_id, id));
SELECT taskforce.enable_tenant_isolation('public.notes');
GRANT SELECT ON public.notes TO taskforce_app;
BEGIN;
SELECT taskforce.act_as('up-acme', 'alice');
INSERT INTO public.notes (id, body) VALUES (1, 'written under 0.1.0');
COMMIT;
SQL
) >/dev/null
tf_check "version before the update" "0.1.0" \
	"$(tf_psql "$dir" "$port" -d upgraded -At -c "SELECT extversion FROM pg_extension WHERE extname = 'taskforce'")"

tf_psql "$dir" "$port" -d upgraded -c "ALTER EXTENSION taskforce UPDATE"
tf_check "version after the update" "$version" \
	"$(tf_psql "$dir" "$port" -d upgraded -At -c "SELECT extversion FROM pg_extension WHERE extname = 'taskforce'")"

# The data survived, and the new features work on the upgraded database.
result=$(tf_psql "$dir" "$port" -d upgraded -At <<'SQL'
SELECT count(*) FROM taskforce.create_user('alice', 'alice', tenant_id => 'up-acme');
SELECT count(*) FROM taskforce.grant_role('alice', 'viewer', tenant_id => 'up-acme');
BEGIN;
SELECT taskforce.act_as('up-acme', 'alice');
SELECT body || ' / ' || taskforce.has_permission('agent:read') || ' / '
       || taskforce.has_permission('agent:execute') FROM public.notes;
COMMIT;
SQL
)
tf_check "0.1.0 data and 0.2.0 permission checks after the update" \
	"written under 0.1.0 / true / false" "$(echo "$result" | grep 'written')"

# Right after the update, with no second setup_roles(), an application role
# made under 0.1.0 logs in with an API key and reads its tenant's users and
# notes: the update granted it this release's objects.
key=$(tf_psql "$dir" "$port" -d upgraded -At -c \
	"SELECT api_key FROM taskforce.create_api_key('alice', 'upgrade test', tenant_id => 'up-acme')")
result=$(psql -X -q -v ON_ERROR_STOP=1 -v key="$key" -h "$dir" -p "$port" -U up_app -d upgraded -At <<'SQL'
BEGIN;
SELECT taskforce.authenticate_api_key(:'key');
SELECT string_agg(u.username, ',') || ' / ' || (SELECT string_agg(body, ',') FROM public.notes)
  FROM taskforce.users AS u;
SELECT 'live contexts visible: ' || count(*) FROM taskforce.live_contexts;
COMMIT;
SQL
)
tf_check "an application role made by setup_roles() under 0.1.0, right after the update" \
	"alice / written under 0.1.0" "$(echo "$result" | grep 'written')"
# The view of 0.4.0 is granted too (alice holds no user:manage: no rows).
tf_check "0.4.0's live_contexts for that role, right after the update" \
	"live contexts visible: 0" "$(echo "$result" | grep 'live contexts')"

# 0.1.0 could not record the roles setup_roles() made, and its auditor and
# BI roles look alike (docs/roles.md#upgrading): one more setup_roles()
# records them.  Then the upgraded extension must equal a fresh install.
tf_psql "$dir" "$port" -d upgraded -c "SELECT count(*) FROM taskforce.setup_roles()" >/dev/null
describe_extension fresh >"$dir/fresh.txt"
describe_extension upgraded >"$dir/upgraded.txt"
if ! diff -u "$dir/fresh.txt" "$dir/upgraded.txt"; then
	fail "the upgraded extension differs from a fresh install (diff above)"
fi
echo "ok: the upgraded extension matches a fresh install ($(grep -c ' | ' "$dir/fresh.txt") objects compared with their definitions)"

