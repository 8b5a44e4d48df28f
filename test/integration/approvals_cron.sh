#!/usr/bin/env bash
# test/integration/approvals_cron.sh: expire_requests() scheduled with a
# real pg_cron (Debian's postgresql-15-cron, preloaded beside taskforce), as
# docs/lifecycle_approvals.md ("Scheduling with pg_cron") shows it.
#
# (a) The statements of the docs: the job's role is an administrator (a
#     member of taskforce_admin, without context), gets USAGE on schema
#     cron and schedules SELECT taskforce.expire_requests() itself, so the
#     job runs as that role.  The test then moves the schedule to every
#     minute (pg_cron 1.4 has no seconds).
# (b) A real pg_cron run expires the overdue pending requests of every
#     tenant and nothing else, emits request_expired for each, and its
#     changes are audit entries naming the job's role (no user).
# (c) The same job scheduled by an application role (no context, not an
#     administrator) fails with permission "workflow:manage" required and
#     expires nothing.
# (d) Unscheduling stops it.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

dir=$(mktemp -d)
port=55671
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

echo "== setup: two tenants, workflows, requests (some soon overdue)"
q >/dev/null <<'SQL'
SET client_min_messages = warning;
CREATE EXTENSION taskforce CASCADE;
CREATE EXTENSION pg_cron;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE approvals_job LOGIN IN ROLE taskforce_admin;
CREATE ROLE app_job LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('globex', 'Globex');
SELECT count(*) FROM (VALUES ('acme', 'alice'), ('acme', 'carol'), ('globex', 'gil')) AS v(t, u),
       taskforce.create_user(v.u, v.u, tenant_id => v.t);
-- Exports expire after a second; escalations never.
SELECT count(*) FROM (VALUES ('acme'), ('globex')) AS v(t),
       taskforce.create_workflow('export', 'Exports', 'data_export', 1, ARRAY['admin'],
                                 expires_after => '1 second', tenant_id => v.t);
SELECT count(*) FROM taskforce.create_workflow('escalation', 'Escalations', 'permission_escalation', 1,
                                               ARRAY['admin'], tenant_id => 'acme');
BEGIN;
SELECT count(*) FROM taskforce.act_as('acme', 'alice');
SELECT taskforce.request_approval('data_export', 'dataset', 'leads', 'Export leads');
SELECT taskforce.request_approval('permission_escalation', 'user', 'alice', 'Make alice an admin');
COMMIT;
BEGIN;
SELECT count(*) FROM taskforce.act_as('globex', 'gil');
SELECT taskforce.request_approval('data_export', 'dataset', 'orders', 'Export orders');
COMMIT;
SQL
requests() {
	q -c "SELECT string_agg(tenant_id || '/' || resource_id || ' ' || status, ' ' ORDER BY tenant_id, resource_id)
	        FROM taskforce.approval_requests"
}
tf_check "requests before" "acme/alice pending acme/leads pending globex/orders pending" "$(requests)"
tf_check "pg_cron's version has no seconds schedules" "1.4-1" \
	"$(q -c "SELECT extversion FROM pg_extension WHERE extname = 'pg_cron'")"

echo "== (a) the docs' statements: the administrator role schedules the job"
q >/dev/null <<'SQL'
GRANT USAGE ON SCHEMA cron TO approvals_job;
SQL
as_role approvals_job >/dev/null <<'SQL'
SELECT cron.schedule('taskforce-expire-requests', '*/5 * * * *',
                     $$SELECT taskforce.expire_requests()$$);
SQL
# (c) the same job under an application role.
q -c "GRANT USAGE ON SCHEMA cron TO app_job" >/dev/null
as_role app_job -c "SELECT cron.schedule('app-expire', '*/5 * * * *', \$\$SELECT taskforce.expire_requests()\$\$)" >/dev/null
tf_check "the jobs and their roles" "app-expire app_job */5 * * * *|taskforce-expire-requests approvals_job */5 * * * *" \
	"$(q -c "SELECT string_agg(jobname || ' ' || username || ' ' || schedule, '|' ORDER BY jobname) FROM cron.job")"
# Test only: every minute instead of every 5.
q -c "SELECT count(cron.alter_job(jobid, schedule => '* * * * *')) FROM cron.job" >/dev/null

echo "== (b) a pg_cron run expires the overdue requests of every tenant"
runs() {
	q -c "SELECT string_agg(j.jobname || ' ' || d.status, '|' ORDER BY j.jobname)
	        FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid)
	       WHERE d.status IN ('succeeded', 'failed')"
}
wait_for "both jobs ran once" "app-expire failed|taskforce-expire-requests succeeded" 150 runs
tf_check "requests after" "acme/alice pending acme/leads expired globex/orders expired" "$(requests)"
tf_check "the job's result" "SELECT 1" \
	"$(q -c "SELECT d.return_message FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid)
	          WHERE j.jobname = 'taskforce-expire-requests'")"
tf_check "request_expired events, one per request" "acme leads|globex orders" \
	"$(q -c "SELECT string_agg(tenant_id || ' ' || (new_values -> 'payload' ->> 'resource_id'), '|' ORDER BY tenant_id)
	          FROM taskforce.audit_log WHERE event_type = 'event' AND object = 'request_expired'")"
tf_check "audit entries of the run (no user, the job's role)" "2 approvals_job" \
	"$(q -c "SELECT count(*) || ' ' || string_agg(DISTINCT db_role, ',') FROM taskforce.audit_log
	          WHERE object = 'taskforce.approval_requests' AND action = 'UPDATE' AND user_id IS NULL")"

echo "== (c) the application role's job failed and expired nothing"
tf_check "its error" "ERROR: permission \"workflow:manage\" required" \
	"$(q -c "SELECT split_part(d.return_message, E'\\n', 1) FROM cron.job_run_details AS d JOIN cron.job AS j USING (jobid)
	          WHERE j.jobname = 'app-expire' LIMIT 1")"
tf_check "no audit entry by the application role" "0" \
	"$(q -c "SELECT count(*) FROM taskforce.audit_log WHERE db_role = 'app_job'")"

echo "== (d) unscheduling"
as_role approvals_job -c "SELECT cron.unschedule('taskforce-expire-requests')" >/dev/null
as_role app_job -c "SELECT cron.unschedule('app-expire')" >/dev/null
tf_check "no job left" "0" "$(q -c "SELECT count(*) FROM cron.job")"
echo "ok: approvals_cron"
