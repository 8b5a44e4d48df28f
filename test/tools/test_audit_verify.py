"""Unit tests of tools/audit-verify, with test vectors built here from the
spec (docs/audit.md) with the cryptography library."""
import base64, copy, hashlib, importlib.machinery, importlib.util, json, os, sys, tempfile, unittest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization

here = os.path.dirname(os.path.abspath(__file__))
loader = importlib.machinery.SourceFileLoader("audit_verify", os.path.join(here, "../../tools/audit-verify"))
spec = importlib.util.spec_from_loader("audit_verify", loader)
av = importlib.util.module_from_spec(spec)
loader.exec_module(av)

NAME = "taskforce.local/123/db"


def make_key():
    sk = Ed25519PrivateKey.generate()
    pub = sk.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    kid = hashlib.sha256(NAME.encode() + b"\n\x01" + pub).digest()[:4]
    vkey = "%s+%s+%s" % (NAME, kid.hex(), base64.b64encode(b"\x01" + pub).decode())
    return sk, kid, vkey


def note(sk, kid, size, root, name=NAME):
    body = "%s\n%d\n%s\n" % (name, size, base64.b64encode(root).decode())
    sig = sk.sign(body.encode())
    return body + "\n\u2014 %s %s\n" % (name, base64.b64encode(kid + sig).decode())


def entry(pos, txid, seq, old=None, new=None):
    e = {"position": pos, "tenant_id": "acme", "logged_at": "2026-12-03T10:00:00.000001Z",
         "txid": str(txid), "entry_seq": seq, "statement_id": 0, "event_type": "change",
         "object": "public.t", "row_key": '{"id": %d}' % pos, "action": "UPDATE",
         "user_id": "u1", "roles": ["member"], "auth_method": "act_as", "db_role": "app",
         "client_addr": None, "application_name": "psql", "old_values": old, "new_values": new}
    vals = []
    for side, d in (("new", new), ("old", old)):
        for col in sorted((d or {}).keys(), key=lambda c: c.encode()):
            vals.append([side, col, json.dumps(d[col]), os.urandom(16).hex(), None])
    for v in vals:
        v[4] = av.commitment(bytes.fromhex(v[3]), v[0], v[1], v[2]).hex()
    e["values"] = vals
    e["leaf_hash"] = av.entry_leaf(e).hex()
    return e


def run(entries, cp, vkey, *extra):
    d = tempfile.mkdtemp()
    paths = []
    for name, content in (("e.jsonl", "".join(json.dumps(x) + "\n" for x in entries)), ("cp", cp), ("vk", vkey)):
        p = os.path.join(d, name)
        with open(p, "w") as f:
            f.write(content)
        paths.append(p)
    return av.main(paths + list(extra) + ["-q"])


class Tests(unittest.TestCase):
    def setUp(self):
        self.sk, self.kid, self.vkey = make_key()
        self.entries = [entry(i, 1000 + i, 1, {"a": i, "b": "x"}, {"a": i + 1, "b": "x"}) for i in range(7)]
        self.leaves = [bytes.fromhex(e["leaf_hash"]) for e in self.entries]
        self.cp = note(self.sk, self.kid, 7, av.mth(self.leaves))

    def test_ok(self):
        self.assertEqual(run(self.entries, self.cp, self.vkey), 0)

    def test_mth_matches_recursive_definition(self):
        def rec(l):
            if len(l) == 1: return l[0]
            k = 1
            while k * 2 < len(l): k *= 2
            return av.node(rec(l[:k]), rec(l[k:]))
        for n in range(1, 20):
            self.assertEqual(av.mth(self.leaves[:1] * 0 + [bytes([i]) * 32 for i in range(n)]),
                             rec([bytes([i]) * 32 for i in range(n)]))

    def test_changed_value(self):
        e = copy.deepcopy(self.entries); e[3]["new_values"]["a"] = 99
        self.assertEqual(run(e, self.cp, self.vkey), 1)
        e = copy.deepcopy(self.entries); e[3]["values"][0][2] = "99"
        self.assertEqual(run(e, self.cp, self.vkey), 1)
        e = copy.deepcopy(self.entries); e[3]["user_id"] = "mallory"
        self.assertEqual(run(e, self.cp, self.vkey), 1)

    def test_deleted_inserted_reordered_truncated(self):
        e = copy.deepcopy(self.entries); del e[2]
        self.assertEqual(run(e, self.cp, self.vkey), 1)
        e = copy.deepcopy(self.entries); e[2], e[3] = e[3], e[2]
        self.assertEqual(run(e, self.cp, self.vkey), 1)
        e = copy.deepcopy(self.entries[:6])
        self.assertEqual(run(e, self.cp, self.vkey), 1)
        # renumbered after a deletion: every entry checks, the root does not
        e = [copy.deepcopy(x) for x in self.entries[:2] + self.entries[3:]]
        for i, x in enumerate(e): x["position"] = i
        e.append(entry(6, 2000, 1, None, {"a": 1}))
        self.assertEqual(run(e, self.cp, self.vkey), 1)

    def test_kinds(self):
        def kind(e, cp=None):
            d = tempfile.mkdtemp()
            p = os.path.join(d, "e")
            with open(p, "w") as f:
                f.writelines(json.dumps(x) + "\n" for x in e)
            try:
                av.verify_export(av.read_export(p), 7, av.mth(self.leaves))
            except av.Tampered as t:
                return t.kind, t.position
        e = copy.deepcopy(self.entries); e[3]["object"] = "public.x"
        self.assertEqual(kind(e), ("changed", 3))
        e = copy.deepcopy(self.entries); del e[2]
        self.assertEqual(kind(e), ("deleted", 2))
        e = copy.deepcopy(self.entries); e[2], e[3] = e[3], e[2]
        self.assertEqual(kind(e), ("reordered", 2))
        e = copy.deepcopy(self.entries[:3]) + [dict(self.entries[2], position=3)] + [dict(x, position=x["position"] + 1) for x in self.entries[3:]]
        self.assertEqual(kind(e), ("inserted", 3))
        self.assertEqual(kind(copy.deepcopy(self.entries[:6])), ("truncated", 6))
        # an entry missing as if purged, with no purge entry after it
        e = copy.deepcopy(self.entries); e[2] = {"position": 2, "purged": True, "leaf_hash": e[2]["leaf_hash"]}
        self.assertEqual(kind(e), ("deleted", 2))
        # an entry that merely has the event type purge covers nothing
        e[5]["event_type"] = "purge"; e[5]["leaf_hash"] = av.entry_leaf(e[5]).hex()
        self.assertEqual(kind(e), ("deleted", 2))

        def with_purge(size, **fields):
            e = copy.deepcopy(self.entries); e[2] = {"position": 2, "purged": True, "leaf_hash": e[2]["leaf_hash"]}
            p = entry(5, int(e[5]["txid"]), e[5]["entry_seq"], None, {"purged_size": size})
            p.update(dict(dict(event_type="purge", action="PURGE", object="taskforce.audit_log"), **fields))
            p["leaf_hash"] = av.entry_leaf(p).hex(); e[5] = p
            return kind(e)
        # a purge entry (PURGE of taskforce.audit_log) covers the positions below its purged_size only
        self.assertEqual(with_purge(2), ("deleted", 2))
        self.assertEqual(with_purge(3)[0], "root mismatch")  # leaf 5 changed, but the purge is accepted
        # the same entry with another action or object, or no integer purged_size, covers nothing
        self.assertEqual(with_purge(3, action="INSERT"), ("deleted", 2))
        self.assertEqual(with_purge(3, object="public.notes"), ("deleted", 2))
        self.assertEqual(with_purge("3"), ("deleted", 2))

    def test_numeric_shown_value_compared_exactly(self):
        e = [entry(0, 1000, 1, None, {"n": 1})]
        v = e[0]["values"][0]
        v[2] = "0.10000000000000000000001"; v[4] = av.commitment(bytes.fromhex(v[3]), "new", "n", v[2]).hex()
        line = json.dumps(dict(e[0], new_values="@N@", leaf_hash="0" * 64))
        def run1(shown):
            d = tempfile.mkdtemp(); p = os.path.join(d, "e")
            with open(p, "w") as f:
                f.write(line.replace('"@N@"', '{"n": %s}' % shown) + "\n")
            try:
                av.entry_leaf(av.read_export(p)[0])
                return "ok"
            except av.Tampered as t:
                return t.kind
        self.assertEqual(run1("0.10000000000000000000001"), "ok")
        self.assertEqual(run1("0.10000000000000000000002"), "changed")

    def test_erased_value_still_verifies(self):
        e = copy.deepcopy(self.entries)
        v = e[1]["values"][0]
        del e[1]["new_values"][v[1]]
        v[2] = None; v[3] = None
        self.assertEqual(run(e, self.cp, self.vkey), 0)

    def test_checkpoint_and_key(self):
        bad = self.cp.replace("\n7\n", "\n6\n")
        self.assertEqual(run(self.entries, bad, self.vkey), 1)
        _, _, other = make_key()
        self.assertEqual(run(self.entries, self.cp, other), 1)
        self.assertEqual(run(self.entries, "garbage", self.vkey), 2)
        # as saved by psql -At (one more newline): still the same note
        self.assertEqual(run(self.entries, self.cp + "\n", self.vkey), 0)
        self.assertEqual(run(self.entries, bad + "\n", self.vkey), 1)
        self.assertEqual(run(self.entries, self.cp, "nokey"), 2)

    def test_proofs(self):
        def path(m, l):
            n = len(l)
            if n == 1: return []
            k = 1
            while k * 2 < n: k *= 2
            return path(m, l[:k]) + [av.mth(l[k:])] if m < k else path(m - k, l[k:]) + [av.mth(l[:k])]
        def subproof(m, l, b):
            n = len(l)
            if m == n: return [] if b else [av.mth(l)]
            k = 1
            while k * 2 < n: k *= 2
            if m <= k: return subproof(m, l[:k], b) + [av.mth(l[k:])]
            return subproof(m - k, l[k:], False) + [av.mth(l[:k])]
        for n in range(1, 8):
            for m in range(n):
                self.assertTrue(av.verify_inclusion(m, n, self.leaves[m], path(m, self.leaves[:n]), av.mth(self.leaves[:n])))
            for m in range(1, n + 1):
                p = subproof(m, self.leaves[:n], True) if m < n else []
                self.assertTrue(av.verify_consistency(m, n, av.mth(self.leaves[:m]), av.mth(self.leaves[:n]), p), (m, n))
                if m < n:
                    self.assertFalse(av.verify_consistency(m, n, av.sha256(b"x"), av.mth(self.leaves[:n]), p))
        old = note(self.sk, self.kid, 3, av.mth(self.leaves[:3]))
        d = tempfile.mkdtemp()
        op = os.path.join(d, "old"); open(op, "w").write(old)
        pp = os.path.join(d, "p"); open(pp, "w").write("\n".join(base64.b64encode(h).decode() for h in subproof(3, self.leaves, True)))
        self.assertEqual(run(self.entries, self.cp, self.vkey, "--old-checkpoint", op, "--consistency-proof", pp), 0)
        ip = os.path.join(d, "i"); open(ip, "w").write("{" + ",".join("\\\\x" + h.hex() for h in path(4, self.leaves)) + "}")
        self.assertEqual(run(self.entries, self.cp, self.vkey, "--inclusion", "4", "--proof", ip), 0)
        self.assertEqual(run(self.entries, self.cp, self.vkey, "--inclusion", "5", "--proof", ip), 1)

    def test_note_signed_by_the_c_code(self):
        """The merkle part's C signer (src/audit/checkpoint.c) and this verifier agree."""
        import shutil, subprocess
        src = os.path.join(here, "../../src/audit/checkpoint.c")
        if not shutil.which("gcc") or not os.path.exists(src):
            self.skipTest("gcc or src/audit/checkpoint.c missing")
        d = tempfile.mkdtemp()
        exe = os.path.join(d, "cpt")
        subprocess.run(["gcc", "-O2", "-o", exe, os.path.join(here, "../unit/checkpoint_test.c"), src, "-lcrypto"],
                       check=True, capture_output=True)
        out = subprocess.run([exe], check=True, capture_output=True, text=True).stdout
        vkey, note = out.split("\n", 1)
        origin, size, root = av.parse_checkpoint(note, av.parse_vkey(vkey))
        self.assertEqual((origin, size), ("taskforce.local/1/db", 12345))
        with self.assertRaises(av.Tampered):
            av.parse_checkpoint(note.replace("12345", "12346"), av.parse_vkey(vkey))


if __name__ == "__main__":
    unittest.main()
