# test/lib.sh: shared helpers for the scripts under test/ (sourced, not run).
#
# tf_start_instance DIR PORT [CONF_LINE...]
#   makes a throwaway PostgreSQL cluster in DIR/data with taskforce preloaded,
#   listening on 127.0.0.1:PORT and a unix socket in DIR, and starts it.
# tf_stop_instance DIR
#   stops it (the data stays until DIR is removed).
# tf_psql DIR PORT [psql args...]
#   psql against it as the bootstrap superuser, stopping on the first error.

PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
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
