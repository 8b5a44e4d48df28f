#!/usr/bin/env bash
# test/run_all.sh: installs what is missing, builds with warnings as errors,
# installs taskforce, and runs every suite against temporary instances:
# the pg_regress suites (sql/, expected/), the isolation specs (test/specs/)
# and the integration tests (test/integration/*.sh).
#
# Run it as root (it installs Debian packages and runs the servers as the
# unprivileged user "postgres") or as a user with sudo.
#
# To run a part while working, name it (an empty value runs none of that kind):
#   TF_REGRESS="rbac jwt"  TF_ISOLATION=permission_cache
#   TF_INTEGRATION="upgrade pgbouncer"  TF_FUZZ_SECONDS=0  TF_TOOLS= (skips test/tools)
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"

. "$here/test/lib.sh"
tf_install_prerequisites

echo "== building with -Wall -Wextra -Werror"
make -s clean >/dev/null
tf_build_and_install "-DUSE_ASSERT_CHECKING -Wall -Wextra -Werror -Wno-unused-parameter"

# The servers must not run as root: run the suites as "postgres" from a copy
# of the tree that user owns.
if [ "$(id -u)" = 0 ]; then
	runner=postgres
	work=$(mktemp -d /tmp/taskforce-test.XXXXXX)
	cp -a "$here"/. "$work"/
	rm -rf "$work/.git"
	chown -R "$runner" "$work"
	as_runner() { runuser -u "$runner" -- env PG_CONFIG="$PG_CONFIG" "$@"; }
else
	work=$here
	as_runner() { "$@"; }
fi

passed=0
failed=0
failures=""
record() {
	if [ "$2" = 0 ]; then
		passed=$((passed + 1))
		echo "ok      $1"
	else
		failed=$((failed + 1))
		failures="$failures $1"
		echo "FAILED  $1"
	fi
}

# Runs one PGXS installcheck and records each suite it reports.
run_installcheck() {
	local label=$1 log=$work/installcheck-$1.log diffs=$2
	shift 2
	set +e
	(cd "$work" && as_runner make -s with_llvm=no installcheck "$@") >"$log" 2>&1
	local status=$?
	set -e
	local suites
	suites=$(sed -n 's/^test \([a-z_0-9]*\) *\.\.\. \(ok\|FAILED\).*/\1 \2/p' "$log")
	if [ -z "$suites" ]; then
		record "$label" 1
	fi
	while read -r name result; do
		[ -n "$name" ] || continue
		record "$label/$name" "$([ "$result" = ok ] && echo 0 || echo 1)"
	done <<<"$suites"
	if [ $status != 0 ]; then
		cat "$log"
		[ -f "$diffs" ] && cat "$diffs"
	fi
}

echo "== pg_regress suites (sql/, expected/)"
[ "${TF_REGRESS-x}" = "" ] || run_installcheck regress "$work/regression.diffs" ISOLATION= ${TF_REGRESS+"REGRESS=$TF_REGRESS"}
echo "== isolation specs (test/specs/)"
[ "${TF_ISOLATION-x}" = "" ] || run_installcheck isolation "$work/output_iso/regression.diffs" REGRESS= ${TF_ISOLATION+"ISOLATION=$TF_ISOLATION"}

echo "== tool unit tests (test/tools/)"
for t in "$work"/test/tools/test_*.py; do
	[ -e "$t" ] || continue
	[ "${TF_TOOLS-x}" = "" ] && break
	name=tools/$(basename "$t" .py)
	set +e
	(cd "$work" && as_runner python3 -W ignore "$t") >"$work/$(basename "$t").log" 2>&1
	status=$?
	set -e
	record "$name" $status
	[ $status = 0 ] || cat "$work/$(basename "$t").log"
done

echo "== integration tests"
for t in "$work"/test/integration/*.sh; do
	[ -e "$t" ] || continue
	if [ -n "${TF_INTEGRATION+set}" ] && [[ " $TF_INTEGRATION " != *" $(basename "$t" .sh) "* ]]; then
		continue
	fi
	name=integration/$(basename "$t" .sh)
	set +e
	(cd "$work" && as_runner bash "$t") >"$work/$(basename "$t").log" 2>&1
	status=$?
	set -e
	record "$name" $status
	[ $status = 0 ] || cat "$work/$(basename "$t").log"
done

if [ "${TF_FUZZ_SECONDS:-30}" != 0 ]; then
echo "== fuzzing the JWT parser (test/fuzz/, ${TF_FUZZ_SECONDS:-30} s)"
set +e
(cd "$work" && as_runner env TF_FUZZ_SECONDS="${TF_FUZZ_SECONDS:-30}" bash test/fuzz/run.sh) >"$work/fuzz.log" 2>&1
status=$?
set -e
record fuzz/jwt_parse $status
tail -n 1 "$work/fuzz.log"
[ $status = 0 ] || cat "$work/fuzz.log"
fi

echo
if [ -z "$failures" ]; then
	[ "$work" = "$here" ] || rm -rf "$work"
else
	echo "failed:$failures (logs in $work)"
fi
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
