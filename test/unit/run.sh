#!/bin/bash
# Unit check of the RFC 9162 code against an independent python3 computation.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
gcc -Wall -Wextra -Werror -O2 -o "$tmp/merkle_test" "$here/merkle_test.c" "$here/../../src/audit/merkle.c" -lcrypto
python3 "$here/merkle_check.py" "$tmp/merkle_test"
gcc -Wall -Wextra -Werror -O2 -o "$tmp/checkpoint_test" "$here/checkpoint_test.c" "$here/../../src/audit/checkpoint.c" -lcrypto 2>&1
python3 "$here/checkpoint_check.py" "$tmp/checkpoint_test"
gcc -Wall -Wextra -Werror -O2 -o "$tmp/tiles_test" "$here/tiles_test.c" "$here/../../src/audit/tiles.c" "$here/../../src/audit/merkle.c" -lcrypto
"$tmp/tiles_test"
rm -rf "$tmp"
