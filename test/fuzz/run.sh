#!/bin/sh
# test/fuzz/run.sh
#	Builds the libFuzzer target for the JWT parser and runs it for a bounded
#	time; exits non-zero if it finds a crash, leak or undefined behaviour.
#
#	test/fuzz/run.sh                  30 seconds
#	TF_FUZZ_SECONDS=600 test/fuzz/run.sh
#
# Needs, on Debian bookworm: clang, libclang-rt-14-dev (the libFuzzer and
# sanitizer runtimes) and postgresql-server-dev-15 (headers, libpgcommon.a,
# libpgport.a).  Set PG_CONFIG to use another PostgreSQL installation.
#
# Writes only to a fresh directory under $TMPDIR (or to TF_FUZZ_BUILD_DIR,
# e.g. test/fuzz/build, which .gitignore covers): the binary, the corpus it
# grows (seeded from the committed test/fuzz/corpus/, which it never
# writes) and any crash artifacts.  The directory is removed after a clean
# run in $TMPDIR and kept otherwise.
set -eu

cd "$(dirname "$0")/../.."
seconds=${TF_FUZZ_SECONDS:-30}
pg_config=${PG_CONFIG:-pg_config}
cc=${CC_FUZZ:-clang}

if [ -n "${TF_FUZZ_BUILD_DIR:-}" ]; then
	build=$TF_FUZZ_BUILD_DIR
	keep=yes
	mkdir -p "$build"
else
	build=$(mktemp -d "${TMPDIR:-/tmp}/jwt_fuzz.XXXXXX")
	keep=no
fi

# libpgcommon.a and libpgport.a: in pkglibdir on Debian, libdir elsewhere.
libs=
for dir in "$("$pg_config" --pkglibdir)" "$("$pg_config" --libdir)"; do
	if [ -f "$dir/libpgcommon.a" ]; then
		libs=$dir
		break
	fi
done
if [ -z "$libs" ]; then
	echo "jwt_fuzz: libpgcommon.a not found (install postgresql-server-dev-15)" >&2
	exit 2
fi

# PostgreSQL's headers name gcc's gnu_printf, which clang ignores.
"$cc" -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-Wall -Wno-ignored-attributes -DFRONTEND \
	-I src -I "$("$pg_config" --includedir-server)" -I "$("$pg_config" --includedir)" \
	src/auth/jwt_parse.c test/fuzz/jwt_fuzz.c \
	-L "$libs" -lpgcommon -lpgport -lm \
	-o "$build/jwt_fuzz"

mkdir -p "$build/corpus-run"
status=0
UBSAN_OPTIONS=print_stacktrace=1 "$build/jwt_fuzz" \
	-max_total_time="$seconds" -max_len=9000 -timeout=10 \
	-dict=test/fuzz/jwt.dict -artifact_prefix="$build/" -print_final_stats=1 \
	"$build/corpus-run" test/fuzz/corpus > "$build/fuzz.log" 2>&1 || status=$?

if [ "$status" -ne 0 ]; then
	tail -n 60 "$build/fuzz.log" >&2
	echo "jwt_fuzz: FAILED (exit $status); log, binary and crash input kept in $build" >&2
	exit 1
fi
runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$build/fuzz.log")
echo "jwt_fuzz: ${runs:-?} runs in ${seconds} s, no crashes"
if [ "$keep" = no ]; then
	rm -rf "$build"
fi
