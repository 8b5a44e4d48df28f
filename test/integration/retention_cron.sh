#!/usr/bin/env bash
# test/integration/retention_cron.sh: apply_retention() scheduled with a real
# pg_cron (Debian's postgresql-15-cron, preloaded beside taskforce), as
# docs/acl.md ("Scheduling with pg_cron") shows it.
#
# (a) The statements of the docs: the job's role is an administrator
#     (a member of taskforce_admin, without context), gets USAGE on schema
#     cron and schedules SELECT count(*) FROM taskforce.apply_retention(false)
#     itself, so the job runs as that role.  The test then moves the
#     schedule to every minute (pg_cron 1.4 has no seconds).
# (b) A real pg_cron run deletes the expired resources of every tenant,
#     their rows in a protected table and their grants, and nothing else;
#     it records one retention_runs row per tenant (ran_by: the job's role)
#     and the deletions and runs are audit entries naming the job's role.
# (c) The same job scheduled by an application role (no context, not an
#     administrator) fails with permission "policy:manage" required and
#     deletes nothing.
# (d) Unscheduling stops it.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55661
cleanup() {
	tf_stop_instance "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	[ -f "$dir/server.log" ] && grep -i "cron\|ERROR" "$dir/server.log" | tail -n 30
	exit 1
}

# pg_cron comes from Debian's postgresql-15-cron (test/lib.sh lists it, so
# test/run_all.sh installs it as root); install it here if run alone as root.
if [ ! -e "$("$PG_CONFIG" --pkglibdir)/pg_cron.so" ]; then
	if [ "$(id -u)" = 0 ]; then
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "postgresql-$PG_MAJOR-cron" >/dev/null
	else
		fail "pg_cron is not installed: install postgresql-$PG_MAJOR-cron (test/run_all.sh does, as root)"
	fi
fi

# pg_cron runs each job in a background worker of cron.database_name,
# connected as the role that scheduled it.
tf_start_instance "$dir" "$port" "shared_preload_libraries = 'taskforce,pg_cron'" \
	"cron.database_name = 'postgres'" "cron.use_background_workers = on" "max_worker_processes = 20"
q() { tf_psql "$dir" "$port" -d postgres -At "$@"; }
as_role() { local role=$1; shift; psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U "$role" -d postgres -At "$@"; }
# wait_for WHAT EXPECTED SECONDS COMMAND...: polls COMMAND until it prints EXPECTED.
wait_for() {
	local what=$1 expected=$2 limit=$3 got="" start=$SECONDS
	shift 3
	while :; do
		got=$("$@")
		[ "$got" = "$expected" ] && break
		[ $((SECONDS - start)) -lt "$limit" ] || fail "$what: expected '$expected' within ${limit} s, got '$got'"
		sleep 1
	done
	echo "ok: $what ($got, after about $((SECONDS - start)) s)"
}

echo "== setup: two tenants, policies, resources (some old), a protected table"
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
CREATE EXTENSION pg_cron;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE retention_job LOGIN IN ROLE taskforce_admin;
CREATE ROLE app_job LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('globex', 'Globex');
SELECT count(*) FROM taskforce.create_user('alice', 'alice', tenant_id => 'acme');
SELECT count(*) FROM taskforce.create_user('bob', 'bob', tenant_id => 'acme');
SELECT count(*) FROM taskforce.create_user('gil', 'gil', tenant_id => 'globex');
SELECT count(*) FROM taskforce.create_resource_policy('short', 'short-lived', 'tenant', '{public,internal}', 30,
                                                      tenant_id => 'acme');
SELECT count(*) FROM taskforce.create_resource_policy('manual', 'manual deletion', 'tenant', '{confidential}',
                                                      tenant_id => 'acme');
SELECT count(*) FROM taskforce.create_resource_policy('short', 'short-lived', 'tenant', '{internal}', 7,
                                                      tenant_id => 'globex');
SELECT count(*) FROM (VALUES ('acme', 'alice', 'doc-old', 'internal'), ('acme', 'alice', 'doc-young', 'internal'),
                             ('acme', 'alice', 'doc-conf', 'confidential'), ('globex', 'gil', 'doc-old', 'internal'),
                             ('globex', 'gil', 'doc-young', 'internal')) AS v(t, o, id, s),
       taskforce.create_acl(v.id, 'document', v.s, owner_id => v.o, tenant_id => v.t);
SELECT count(*) FROM taskforce.grant_access('doc-old', 'user', 'bob', '{read}', tenant_id => 'acme');
CREATE TABLE public.chunks (tenant_id text NOT NULL DEFAULT taskforce.current_tenant(), chunk_id integer,
                            resource_id text NOT NULL, body text, PRIMARY KEY (tenant_id, chunk_id));
SELECT taskforce.enable_tenant_isolation('public.chunks');
SELECT taskforce.protect_table('public.chunks');
SELECT taskforce.enable_audit('public.chunks');
INSERT INTO public.chunks VALUES ('acme', 1, 'doc-old', 'a'), ('acme', 2, 'doc-old', 'b'), ('acme', 3, 'doc-young', 'c'),
                                 ('acme', 4, 'doc-conf', 'd'), ('globex', 1, 'doc-old', 'e'), ('globex', 2, 'doc-young', 'f');
-- Test setup: age the resources (old: past their policy's retention).
UPDATE taskforce.resource_acls AS a SET created_at = now() - v.age
  FROM (VALUES ('acme', 'doc-old', interval '45 days'), ('acme', 'doc-young', interval '10 days'),
               ('acme', 'doc-conf', interval '400 days'), ('globex', 'doc-old', interval '8 days'),
               ('globex', 'doc-young', interval '6 days')) AS v(t, id, age)
 WHERE a.tenant_id = v.t AND a.resource_id = v.id;
SQL
state() {
	q -c "SELECT string_agg(tenant_id || '/' || resource_id, ' ' ORDER BY tenant_id, resource_id) FROM taskforce.resource_acls"
}
chunks() {
	q -c "SELECT string_agg(tenant_id || '/' || chunk_id, ' ' ORDER BY tenant_id, chunk_id) FROM public.chunks"
}
tf_check "resources before" "acme/doc-conf acme/doc-old acme/doc-young globex/doc-old globex/doc-young" "$(state)"
tf_check "the dry run lists what is due" "acme/doc-old globex/doc-old" \
	"$(as_role retention_job -c "SELECT string_agg(tenant_id || '/' || resource_id, ' ' ORDER BY tenant_id) FROM taskforce.apply_retention()")"
tf_check "pg_cron's version has no seconds schedules" "1.4-1" \
	"$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")"

echo "== (a) the docs' statements: the administrator role schedules the job"
# The statements of docs/acl.md, "Scheduling with pg_cron".
q >/dev/null <<'SQL'
GRANT USAGE ON SCHEMA cron TO retention_job;
SQL
as_role retention_job >/dev/null <<'SQL'
SELECT cron.schedule('taskforce-retention', '17 3 * * *',
                     $$SELECT count(*) FROM taskforce.apply_retention(false)$$);
SQL
# (c) the same job under an application role.
q -c "GRANT USAGE ON SCHEMA cron TO app_job" >/dev/null
as_role app_job -c "SELECT cron.schedule('app-retention', '17 3 * * *', \$\$SELECT count(*) FROM taskforce.apply_retention(false)\$\$)" >/dev/null
tf_check "the jobs and their roles" "app-retention app_job 17 3 * * *|taskforce-retention retention_job 17 3 * * *" \
	"$(q -c "SELECT string_agg(jobname || ' ' || username || ' ' || schedule, '|' ORDER BY jobname) FROM cron.job")"
# Test only: every minute instead of nightly.
q -c "SELECT count(cron.alter_job(jobid, schedule => '* * * * *')) FROM cron.job" >/dev/null
tf_check "rescheduled, roles unchanged" "app-retention app_job * * * * *|taskforce-retention retention_job * * * * *" \
	"$(q -c "SELECT string_agg(jobname || ' ' || username || ' ' || schedule, '|' ORDER BY jobname) FROM cron.job")"

echo "== (b) a pg_cron run deletes the expired resources"
runs() {
	q -c "SELECT string_agg(j.jobname || ' ' || d.status, '|' ORDER BY j.jobname)
	        FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid)
	       WHERE d.status IN ('succeeded', 'failed')"
}
wait_for "both jobs ran once" "app-retention failed|taskforce-retention succeeded" 150 runs
tf_check "resources after" "acme/doc-conf acme/doc-young globex/doc-young" "$(state)"
tf_check "protected rows after" "acme/3 acme/4 globex/2" "$(chunks)"
tf_check "grants of deleted resources" "0" "$(q -c "SELECT count(*) FROM taskforce.resource_grants")"
tf_check "the job's result" "SELECT 1" \
	"$(q -c "SELECT d.return_message FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid) WHERE j.jobname = 'taskforce-retention'")"
tf_check "retention_runs: one run, a row per tenant, by the job's role" \
	"1|acme {short} [\"doc-old\"] {\"public.chunks\": 2} retention_job retention_job|globex {short} [\"doc-old\"] {\"public.chunks\": 1} retention_job retention_job" \
	"$(q -c "SELECT count(DISTINCT run_id) || '|' || string_agg(tenant_id || ' ' || policy_ids::text || ' ' || resources_deleted::text || ' '
	                || rows_deleted::text || ' ' || ran_by || ' ' || db_role, '|' ORDER BY tenant_id) FROM taskforce.retention_runs")"
tf_check "audit entries of the run (no user, the job's role)" \
	"public.chunks DELETE 3 retention_job|taskforce.resource_acls DELETE 2 retention_job|taskforce.resource_grants DELETE 1 retention_job|taskforce.retention_runs INSERT 2 retention_job" \
	"$(q -c "SELECT string_agg(x, '|' ORDER BY x) FROM (
	           SELECT object || ' ' || action || ' ' || count(*) || ' ' || string_agg(DISTINCT db_role, ',') AS x
	             FROM taskforce.audit_log
	            WHERE user_id IS NULL
	              AND txid = (SELECT txid FROM taskforce.audit_log WHERE object = 'taskforce.retention_runs' LIMIT 1)
	            GROUP BY object, action) AS e")"

echo "== (c) the application role's job failed and deleted nothing"
tf_check "its error" "ERROR: permission \"policy:manage\" required" \
	"$(q -c "SELECT split_part(d.return_message, E'\\n', 1) FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid)
	          WHERE j.jobname = 'app-retention' LIMIT 1")"
tf_check "no run and no audit entry by the application role" "0 0" \
	"$(q -c "SELECT (SELECT count(*) FROM taskforce.retention_runs WHERE db_role = 'app_job') || ' '
	             || (SELECT count(*) FROM taskforce.audit_log WHERE db_role = 'app_job')")"

echo "== (d) unscheduling"
as_role retention_job -c "SELECT cron.unschedule('taskforce-retention')" >/dev/null
as_role app_job -c "SELECT cron.unschedule('app-retention')" >/dev/null
tf_check "no job left" "0" "$(q -c "SELECT count(*) FROM cron.job")"
echo "ok: retention_cron"
