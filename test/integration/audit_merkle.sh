#!/bin/bash
# RFC 9162 Merkle code (src/audit/merkle.c), C2SP tiles addressing (tiles.c) and signed-note
# checkpoints (checkpoint.c, against python3-cryptography) checked against an independent python3 computation:
# roots, inclusion and consistency proofs for every (m, n) up to 70 leaves, and that the
# verifiers accept them and reject a flipped bit or a wrong leaf.  Needs no server.
set -euo pipefail
exec bash "$(dirname "$0")/../unit/run.sh"
