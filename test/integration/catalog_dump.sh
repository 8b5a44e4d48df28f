#!/usr/bin/env bash
# test/integration/catalog_dump.sh: the agent catalog survives pg_dump ->
# pg_restore: agents (with their generated search documents) and versions in
# every lifecycle state (draft, pending_approval, approved, published,
# deprecated, archived) come back as they were, with their version keys,
# config hashes and current versions; the restored catalog keeps working
# (a new version is created, published, and deprecates the restored one)
# and its rules still hold (a published version's definition stays fixed).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55681
trap 'tf_stop_instance "$dir"; rm -rf "$dir"' EXIT

fail() {
	echo "FAIL: $*"
	exit 1
}
sql() { local db=$1; shift; tf_psql "$dir" "$port" -d "$db" -X -At -v ON_ERROR_STOP=1 "$@"; }

tf_start_instance "$dir" "$port"
sql postgres -c "CREATE DATABASE src" >/dev/null
sql src >/dev/null <<'SQL'
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme', limits => '{"max_agents": 10}');
SELECT count(*) FROM taskforce.create_user('alice', 'alice', tenant_id => 'acme');
SELECT count(*) FROM taskforce.create_agent('support', 'Customer Support Agent', 'Handles customer inquiries',
                                            'support', ARRAY['nlp', 'production'], '{"temperature": 0.7}',
                                            owner_id => 'alice', tenant_id => 'acme');
SELECT count(*) FROM taskforce.create_agent('billing', 'Billing Agent', 'Invoices', 'finance', tenant_id => 'acme');
-- One version in each state of the lifecycle.
SELECT count(*) FROM unnest(ARRAY['1.0.0', '1.1.0', '2.0.0-rc.1', '2.0.0', '2.1.0', '2.2.0']) AS v,
       taskforce.create_version('support', v, jsonb_build_object('v', v, 'temperature', 0.50), 'version ' || v,
                                tenant_id => 'acme') AS c;
SELECT count(*) FROM unnest(ARRAY['1.0.0', '1.1.0', '2.0.0-rc.1', '2.0.0', '2.1.0']) AS v,
       taskforce.submit_version('support', v, tenant_id => 'acme') AS s;
SELECT count(*) FROM unnest(ARRAY['1.0.0', '1.1.0', '2.0.0-rc.1', '2.0.0']) AS v,
       taskforce.approve_version('support', v, tenant_id => 'acme') AS a;
SELECT count(*) FROM unnest(ARRAY['1.0.0', '1.1.0', '2.0.0-rc.1']) AS v,
       taskforce.publish_version('support', v, tenant_id => 'acme') AS p;
SELECT count(*) FROM taskforce.archive_version('support', '1.0.0', tenant_id => 'acme');
SQL
figures() {
	sql "$1" <<'SQL'
SELECT string_agg(format('%s/%s=%s', agent_id, version, status), ' ' ORDER BY agent_id, version_key)
  FROM taskforce.agent_versions;
SELECT md5(string_agg(format('%s %s %s %s %s %s %s', agent_id, version, encode(version_key, 'hex'),
                             encode(config_hash, 'hex'), definition, changelog, created_by),
                      ',' ORDER BY agent_id, version_key))
  FROM taskforce.agent_versions;
SELECT bool_and(config_hash = taskforce.config_hash(definition) AND version_key = taskforce.semver_key(version))
  FROM taskforce.agent_versions;
SELECT string_agg(format('%s:%s:%s', agent_id, coalesce(current_version, '-'), search), ' ' ORDER BY agent_id)
  FROM taskforce.agents;
SQL
}
before=$(figures src)
tf_check "versions in every state" "support/0.1.0=draft support/1.0.0=archived support/1.1.0=deprecated support/2.0.0-rc.1=published support/2.0.0=approved support/2.1.0=pending_approval support/2.2.0=draft" \
	"$(echo "$before" | sed -n 1p)"

pg_dump -h "$dir" -p "$port" -U postgres -Fc -f "$dir/src.dump" src
sql postgres -c "CREATE DATABASE dst" >/dev/null
pg_restore -h "$dir" -p "$port" -U postgres -d dst --exit-on-error "$dir/src.dump" ||
	fail "pg_restore of the catalog failed"
after=$(figures dst)
tf_check "the versions, keys, hashes, definitions and agents restored" "$before" "$after"

# The restored catalog works on: 2.0.0 is published and deprecates the
# restored current version; a published definition is still fixed.
got=$(sql dst <<'SQL'
SELECT status FROM taskforce.publish_version('support', '2.0.0', tenant_id => 'acme');
SELECT string_agg(format('%s=%s', version, status), ' ' ORDER BY version_key)
  FROM taskforce.agent_versions WHERE agent_id = 'support' AND status IN ('published', 'deprecated');
SELECT current_version FROM taskforce.agents WHERE agent_id = 'support';
SQL
)
tf_check "publishing after the restore" "published 1.1.0=deprecated 2.0.0-rc.1=deprecated 2.0.0=published 2.0.0" \
	"$(echo $got)"
got=$(sql dst -c "UPDATE taskforce.agent_versions SET definition = '{}' WHERE agent_id = 'support' AND version = '2.0.0'" 2>&1 || true)
case "$got" in
*"is published and can no longer change"*) echo "ok: a published definition stays fixed after the restore" ;;
*) fail "a published definition changed after the restore: $got" ;;
esac
echo "catalog dump and restore: ok"
