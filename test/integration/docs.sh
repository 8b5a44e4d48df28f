#!/usr/bin/env bash
# test/integration/docs.sh: runs the examples of the documentation pages
# (test/doctest.py) against a throwaway instance, as a reader would paste them.
#
#   bash test/integration/docs.sh                   # every page in test/doctest_pages
#   bash test/integration/docs.sh docs/context.md   # only the pages named
#   TF_DOCTEST_ARGS="--keep-going --show" bash test/integration/docs.sh PAGE  # every output
#
# First a self-test: the runner must fail on the pages under
# test/fixtures/doctest/ (a wrong expected output, an unexpected ERROR, a failing
# sh block, a psql ERROR inside a sh block, an unmarked block) and pass on
# the one that is right (good.md).  Started as root, it
# re-runs itself as the OS user postgres from a copy of the tree.
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
if [ "$(id -u)" = 0 ]; then
	copy=$(mktemp -d /tmp/tf-docs-tree.XXXXXX)
	cp -a "$here"/. "$copy"/
	rm -rf "$copy/.git"
	chown -R postgres "$copy"
	set +e
	runuser -u postgres -- env PG_CONFIG="${PG_CONFIG:-}" bash "$copy/test/integration/docs.sh" "$@"
	status=$?
	rm -rf "$copy"
	exit $status
fi
source "$here/test/lib.sh"
cd "$here"
# docs/audit.md runs the shipped verifier as "$TASKFORCE_SRC"/tools/audit-verify
# from its scratch directory.
export TASKFORCE_SRC="$here"

PORT=55591
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tf-docs.XXXXXX")
cleanup() {
	tf_stop_instance "$tmp"
	rm -rf "$tmp"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# docs/context.md shows PREPARE TRANSACTION.
tf_start_instance "$tmp" "$PORT" "max_prepared_transactions = 4"
run() { python3 test/doctest.py --host "$tmp" --port "$PORT" "$@"; }
run_pages() { python3 test/doctest.py --host "$tmp" --port "$PORT" ${TF_DOCTEST_ARGS:-} "$@"; }

echo "== self-test of the runner (test/fixtures/doctest/)"
run test/fixtures/doctest/good.md >"$tmp/good.log" 2>&1 || {
	cat "$tmp/good.log"
	fail "the runner failed a correct page"
}
tf_check "a correct page passes" "test/fixtures/doctest/good.md: 4 blocks run, 1 skipped (marked), 3 outputs compared" \
	"$(grep '^test/fixtures' "$tmp/good.log")"
for bad in wrong_output unexpected_error unmarked_block failing_sh sh_psql_error; do
	if run test/fixtures/doctest/$bad.md >"$tmp/$bad.log" 2>&1; then
		cat "$tmp/$bad.log"
		fail "the runner passed test/fixtures/doctest/$bad.md"
	fi
	echo "ok: the runner fails $bad.md ($(grep -m1 '^FAIL' "$tmp/$bad.log"))"
done

if [ $# -gt 0 ]; then
	pages=("$@")
else
	mapfile -t pages < <(grep -v '^\s*\(#\|$\)' test/doctest_pages)
	for page in README.md docs/*.md; do
		grep -qx "$page" test/doctest_pages || echo "not yet listed in test/doctest_pages: $page"
	done
fi
echo "== the documentation (${#pages[@]} pages)"
run_pages "${pages[@]}"
