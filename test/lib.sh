# test/lib.sh: shared helpers for the scripts under test/ (sourced, not run).
#
# tf_start_instance DIR PORT [CONF_LINE...]
#   makes a throwaway PostgreSQL cluster in DIR/data with taskforce preloaded,
#   listening on 127.0.0.1:PORT and a unix socket in DIR, and starts it.
#   The audit sealer is off (taskforce.audit_seal_interval = 0) unless a
#   CONF_LINE sets it.
# tf_stop_instance DIR
#   stops it (the data stays until DIR is removed).
# tf_psql DIR PORT [psql args...]
#   psql against it as the bootstrap superuser, stopping on the first error.
# tf_check WHAT EXPECTED ACTUAL
#   prints "ok: WHAT (ACTUAL)", or calls the script's fail() with both values.
# tf_install_prerequisites
#   installs the Debian packages that are missing (as root, or with sudo).
# tf_build_and_install [PG_CFLAGS]
#   builds taskforce in the current directory and installs it.

PG_MAJOR=15
export PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/$PG_MAJOR/bin/pg_config}
# clang and libclang-rt-14-dev build the libFuzzer target; python3-psycopg
# is the client driver the walkthrough and the privacy test bind parameters with;
# python3-cryptography is what tools/audit-verify checks signatures with;
# postgresql-15-cron is the pg_cron that runs apply_retention (retention_cron.sh).
TF_PACKAGES="postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR postgresql-contrib libssl-dev pgbouncer make gcc clang libclang-rt-14-dev python3-psycopg python3-cryptography postgresql-$PG_MAJOR-cron"
PG_BIN=$("$PG_CONFIG" --bindir)
export PATH="$PG_BIN:$PATH"

tf_start_instance() {
	local dir=$1 port=$2
	shift 2
	mkdir -p "$dir"
	initdb -D "$dir/data" -A trust -U postgres --no-instructions >"$dir/initdb.log" 2>&1 || {
		cat "$dir/initdb.log" >&2
		return 1
	}
	{
		echo "shared_preload_libraries = 'taskforce'"
		echo "listen_addresses = '127.0.0.1'"
		echo "port = $port"
		echo "unix_socket_directories = '$dir'"
		echo "fsync = off"
		# the audit sealer off: tests seal with seal_audit() where they expect
		# given tree sizes; a CONF_LINE turns it on (audit_sealer.sh)
		echo "taskforce.audit_seal_interval = 0"
		for line in "$@"; do echo "$line"; done
	} >>"$dir/data/postgresql.conf"
	pg_ctl -D "$dir/data" -l "$dir/server.log" -w -t 60 start >/dev/null || {
		cat "$dir/server.log" >&2
		return 1
	}
}

tf_stop_instance() {
	pg_ctl -D "$1/data" -m fast -w stop >/dev/null 2>&1 || true
}

tf_psql() {
	local dir=$1 port=$2
	shift 2
	psql -X -q -v ON_ERROR_STOP=1 -h "$dir" -p "$port" -U postgres "$@"
}

tf_check() {
	if [ "$2" = "$3" ]; then
		echo "ok: $1 ($3)"
	else
		fail "$1: expected '$2', got '$3'"
	fi
}

tf_as_root() {
	if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi
}

tf_install_prerequisites() {
	local p missing=""
	for p in $TF_PACKAGES; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
	done
	[ -n "$missing" ] || return 0
	echo "== installing:$missing"
	tf_as_root apt-get update -qq
	tf_as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
}

tf_build_and_install() {
	make -s with_llvm=no PG_CFLAGS="${1:-}"
	tf_as_root make -s with_llvm=no install >/dev/null
}
