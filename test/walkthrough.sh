#!/usr/bin/env bash
# test/walkthrough.sh: the guided tour of taskforce.
#
# On a Debian 12 machine, as root or as a user with sudo:
#
#     bash test/walkthrough.sh
#
# installs the Debian packages that are missing, builds and installs the
# extension, starts a throwaway PostgreSQL 15 (loopback and a unix socket
# only, data in a temporary directory, taskforce preloaded) on port 55432
# (PORT=... to change it), runs test/walkthrough.sql against it, and leaves
# the server running so that you can look around.  It ends by printing how
# to connect and how to stop the server.
#
# PostgreSQL refuses to run as root: when run as root, the server and psql
# run as the unprivileged OS user "postgres" (made by the postgresql-15
# package).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

. "$here/test/lib.sh"
PORT=${PORT:-55432}
DB=taskforce_demo

case $PORT in
'' | *[!0-9]*) echo "PORT must be a number, not \"$PORT\"" >&2; exit 2 ;;
esac
if [ "$PORT" -lt 1024 ] || [ "$PORT" -gt 65535 ]; then
	echo "PORT must be between 1024 and 65535, not $PORT" >&2
	exit 2
fi

# Fail before doing any work if something already listens on the port
# (another walkthrough still running, say).
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
	echo "Port $PORT on 127.0.0.1 is already in use (an earlier walkthrough server still running?)." >&2
	echo "Stop what listens there, or choose another port: PORT=55433 bash test/walkthrough.sh" >&2
	exit 1
fi

# 1. Packages, build, install.
tf_install_prerequisites
echo "== building and installing taskforce"
tf_build_and_install

# 2. A throwaway server.  lib.sh's helpers run as the current user; as root
# they run as "postgres", in a directory that user owns.
dir=$(mktemp -d /tmp/taskforce-demo.XXXXXX)
if [ "$(id -u)" = 0 ]; then
	runner=postgres
	chown "$runner": "$dir"
	as_runner() { (cd "$dir" && runuser -u "$runner" -- env PATH="$PATH" "$@"); }
	run_prefix="runuser -u $runner -- "
else
	runner=$(id -un)
	as_runner() { (cd "$dir" && "$@"); }
	run_prefix=""
fi
# Runs one of lib.sh's functions through as_runner.
lib() {
	as_runner bash -c "$(declare -f "$1"); $1 \"\$@\"" "$@"
}

started=no
on_exit() {
	local status=$?
	if [ $status != 0 ]; then
		if [ $started = yes ]; then
			lib tf_stop_instance "$dir"
			echo "The walkthrough failed; the server was stopped.  Its log is $dir/server.log" >&2
		else
			echo "The walkthrough failed; see the logs in $dir" >&2
		fi
	fi
}
trap on_exit EXIT

echo "== starting PostgreSQL $PG_MAJOR on 127.0.0.1:$PORT, data in $dir/data"
lib tf_start_instance "$dir" "$PORT"
started=yes
lib tf_psql "$dir" "$PORT" -d postgres -c "CREATE DATABASE $DB"

# 3. The walkthrough itself, from standard input so that psql's messages
# are not prefixed with the file name and line.
lib tf_psql "$dir" "$PORT" -d "$DB" <"$here/test/walkthrough.sql" 2>&1

# 4. The application logs in with a JWT, through a real client driver that
# sends the token as a bind parameter.
token=$(lib tf_psql "$dir" "$PORT" -d "$DB" -At -c \
	"SELECT taskforce.mint_jwt('{\"sub\": \"alice@acme.example\", \"tenant_id\": \"acme-corp\", \"aud\": \"taskforce-api\"}', 'acme-2026')")
echo
echo "== 14. The application logs in with a JWT (test/walkthrough_app.py, psycopg 3)"
echo
as_runner env TF_TOKEN="$token" TF_DSN="host=$dir port=$PORT user=app dbname=$DB" \
	/usr/bin/python3 - <"$here/test/walkthrough_app.py"

# 5. The audit trail: the entry of alice's change, a seal, a verification,
# an offline verification of an export with tools/audit-verify, the
# background sealer and retention, and a tampering found by both.
lib tf_psql "$dir" "$PORT" -d "$DB" <"$here/test/walkthrough_audit.sql" 2>&1
# export_and_verify: writes trail.jsonl, checkpoint and vkey in $dir and runs
# the offline verifier on them (the script through stdin: $here may not be
# readable by the server's OS user).
export_and_verify() {
	lib tf_psql "$dir" "$PORT" -d "$DB" -At -c "SELECT * FROM taskforce.export_audit()" >"$dir/trail.jsonl"
	lib tf_psql "$dir" "$PORT" -d "$DB" -At -c "SELECT taskforce.audit_checkpoint()" >"$dir/checkpoint"
	lib tf_psql "$dir" "$PORT" -d "$DB" -At -c "SELECT taskforce.audit_public_key()" >"$dir/vkey"
	echo "\$ tools/audit-verify trail.jsonl checkpoint vkey    ($(wc -l <"$dir/trail.jsonl") entries)"
	as_runner /usr/bin/python3 - trail.jsonl checkpoint vkey <"$here/tools/audit-verify"
}
echo
echo "== 16. An auditor verifies an export offline (tools/audit-verify, no database needed)"
echo
export_and_verify
echo "   -> exit status $?"
lib tf_psql "$dir" "$PORT" -d "$DB" <"$here/test/walkthrough_retention.sql" 2>&1
echo
echo "== 18. Tampering behind the trail's back is found"
echo
lib tf_psql "$dir" "$PORT" -d "$DB" <"$here/test/walkthrough_tamper.sql" 2>&1
echo "-- and by the offline verifier, on a new export:"
if export_and_verify; then
	echo "the offline verifier missed the tampering" >&2
	exit 1
else
	echo "   -> exit status $? (tampering found)"
fi

# 6. Resource access control: the knowledge-assistant scenario.
lib tf_psql "$dir" "$PORT" -d "$DB" <"$here/test/walkthrough_acl.sql" 2>&1

# 7. Governed lifecycle: seed 001 §4.2's complete approval example.
lib tf_psql "$dir" "$PORT" -d "$DB" <"$here/test/walkthrough_lifecycle.sql" 2>&1

# 8. Leave it running and say how to use it.
psql_bin=$(command -v psql)
pg_ctl_bin=$(command -v pg_ctl)
cat <<EOF

== The server is still running, with the data of this walkthrough.

Connect to it:
    $psql_bin -h $dir -p $PORT -U postgres -d $DB
  (or as the application: -U app; as the middleware: -U middleware)

Stop it:
    ${run_prefix}$pg_ctl_bin -D $dir/data -m fast stop

and then remove its files:
    rm -rf $dir
EOF
