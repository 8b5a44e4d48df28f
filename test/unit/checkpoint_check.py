#!/usr/bin/env python3
"""Independent check (python3-cryptography) of the C signed-note output."""
import base64, hashlib, subprocess, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives import serialization

p = subprocess.run([sys.argv[1]], capture_output=True, text=True)
assert p.returncode == 0, p.stderr
lines = p.stdout.split("\n", 1)
vkey, note = lines[0], lines[1]
seed = bytes(range(32))
pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)
name = "taskforce.local/1/db"
kid = hashlib.sha256(name.encode() + b"\n\x01" + pub).digest()[:4]
assert vkey == "%s+%s+%s" % (name, kid.hex(), base64.b64encode(b"\x01" + pub).decode()), vkey
body, sigs = note.split("\n\n", 1)
body += "\n"
assert body == "%s\n12345\n%s\n" % (name, base64.b64encode(bytes(range(200, 232))).decode()), body
assert sigs.startswith("\u2014 " + name + " ") and sigs.endswith("\n"), sigs
raw = base64.b64decode(sigs.split(" ")[2])
assert raw[:4] == kid and len(raw) == 68
Ed25519PublicKey.from_public_bytes(pub).verify(raw[4:], body.encode())
print("checkpoint: vkey, key id, note body and Ed25519 signature match python3-cryptography")
