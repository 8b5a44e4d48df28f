#!/usr/bin/env bash
# test/integration/exported_symbols.sh: every symbol the installed
# taskforce.so exports is prefixed, so that it cannot collide with a symbol
# of PostgreSQL or of another loaded library.
#
# The rule (`nm -D --defined-only`, every defined dynamic symbol):
#   - tf_*, Tf* or taskforce_* (SQL-callable C functions are taskforce_*);
#   - PostgreSQL's required entry points: _PG_init, Pg_magic_func, and the
#     pg_finfo_taskforce_* record that PG_FUNCTION_INFO_V1 makes for each
#     SQL-callable function;
#   - nothing else (the linker's own _init, _fini, _edata, _end and
#     __bss_start are tolerated, for toolchains that still export them).
set -euo pipefail
. "$(dirname "$0")/../lib.sh"

lib=$("$PG_CONFIG" --pkglibdir)/taskforce.so
[ -f "$lib" ] || { echo "FAIL: $lib is not installed"; exit 1; }
command -v nm >/dev/null || { echo "FAIL: nm (binutils) not found"; exit 1; }

symbols=$(nm -D --defined-only "$lib" | awk 'NF >= 3 { print $3 }' | sort -u)
count=$(echo "$symbols" | grep -c . || true)
[ "$count" -gt 0 ] || { echo "FAIL: nm found no exported symbols in $lib"; exit 1; }

allowed='^(tf_|Tf|taskforce_|pg_finfo_taskforce_)|^(_PG_init|Pg_magic_func)$|^(_init|_fini|_edata|_end|__bss_start)$'
bad=$(echo "$symbols" | grep -Ev "$allowed" || true)
if [ -n "$bad" ]; then
	echo "FAIL: $lib exports unprefixed symbols (make them static, or prefix them tf_):"
	echo "$bad" | sed 's/^/  /'
	exit 1
fi
echo "ok: all $count exported symbols of $lib are prefixed"

# The check must see the entry points, or it is not reading the right file.
for required in _PG_init Pg_magic_func pg_finfo_taskforce_current_tenant; do
	grep -x "$required" <<<"$symbols" >/dev/null || { echo "FAIL: $required not exported by $lib"; exit 1; }
done
echo "ok: the entry points PostgreSQL needs are exported"

# Every pg_finfo_ record belongs to an exported SQL-callable function.
missing=$(echo "$symbols" | sed -n 's/^pg_finfo_//p' | while read -r fn; do
	grep -x "$fn" <<<"$symbols" >/dev/null || echo "$fn"
done)
[ -z "$missing" ] || { echo "FAIL: pg_finfo_ records without their function: $missing"; exit 1; }
echo "PASS: exported symbols follow the prefix rule"
