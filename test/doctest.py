#!/usr/bin/env python3
"""test/doctest.py: runs the fenced examples of Markdown pages as a reader would.

Usage (against a running instance with taskforce installed and preloaded, trust
authentication on its socket directory; run as a non-root OS user, with
PostgreSQL 15's psql first on PATH):

    python3 test/doctest.py --host SOCKET_DIR --port PORT PAGE.md [PAGE.md ...]
    python3 test/doctest.py --host SOCKET_DIR --port PORT --keep-going --show docs/context.md

(--keep-going runs the rest of a page after a failure; --show prints every block's
actual output, to write the expected ```text blocks from.)  An instance for that:
    . test/lib.sh; tf_start_instance /tmp/dt 55599   # then --host /tmp/dt --port 55599

The easy way starts a throwaway instance for you (as root it re-runs itself as
the OS user postgres from a copy of the tree):

    bash test/integration/docs.sh                    # the pages in test/doctest_pages
    bash test/integration/docs.sh docs/context.md    # just these pages

Conventions (issue 8), per page:
- a fresh database "doctest" (an existing one is dropped), dropped again after the
  page with the roles the page made (roles that existed when the runner started
  are kept);
- ```sql blocks go to ONE psql -X -q session (user postgres, database doctest),
  so \\c - ROLE and SET ROLE carry to later blocks; each block's output (stdout
  and stderr, the "psql:<stdin>:N: " prefix removed) is captured separately;
- ```sh / ```bash blocks run with bash -e, ```python blocks with python3, with
  PGHOST, PGPORT, PGUSER=postgres, PGDATABASE=doctest, in one scratch
  directory kept for the whole page (psql's working directory too);
- a ```text block that follows a runnable block after only blank lines is its
  expected output, compared after stripping trailing whitespace of each line
  and trailing blank lines; a first line "-- output not compared" or
  "# output not compared" turns the comparison off;
- an ERROR (psql) or a nonzero exit (sh, python) fails the page unless the
  expected output shows it;
- a block whose first line is "-- not run: ...", "# not run: ..." or
  "// not run: ..." is skipped and counted; any other language than sql, sh,
  bash, python must carry that marker; text blocks elsewhere and blocks with no
  info string are displays and are not counted.

Prints per page "N blocks run, N skipped (marked), N outputs compared" and a
total; exits 1 on any failure, printing the page, line, block, expected and
actual output.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading

BLOCK_TIMEOUT = 300   # seconds
RUNNABLE = {"sql", "sh", "bash", "python"}
DISPLAY = {"", "text"}
NOT_RUN = re.compile(r"^\s*(--|#|//)\s*not run:")
NOT_COMPARED = re.compile(r"^\s*(--|#)\s*output not compared")
PSQL_PREFIX = re.compile(r"^psql:<stdin>:\d+: ")
# psql in a sh block prefixes "psql:FILE:LINE: " (or nothing with -c)
ERROR_LINE = re.compile(r"^(psql:\S*:\d+: )?(ERROR|FATAL|PANIC):")
FENCE = re.compile(r"^(\s*)(`{3,})\s*([^`\s]*)\s*$")


class Block:
    def __init__(self, lang, line, text):
        self.lang, self.line, self.text = lang, line, text
        self.expected = None      # the following text block, if any
        self.expected_line = None


def parse_blocks(path):
    """Fenced blocks of a page, each runnable one with its expected output."""
    lines = open(path, encoding="utf-8").read().split("\n")
    blocks, i = [], 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, ticks, lang = len(m.group(1)), m.group(2), m.group(3).lower()
        start, body, i = i + 1, [], i + 1
        while i < len(lines) and not re.match(r"^\s*" + ticks + r"`*\s*$", lines[i]):
            body.append(lines[i][indent:] if lines[i][:indent].strip() == "" else lines[i])
            i += 1
        i += 1
        blocks.append(Block(lang, start, "\n".join(body)))
        blocks[-1].end = i  # index of the line after the closing fence
    # Pair each text block with the block just before it (only blank lines between).
    result = []
    for b in blocks:
        prev = result[-1] if result else None
        if (b.lang == "text" and prev is not None and prev.lang in RUNNABLE
                and prev.expected is None
                and all(l.strip() == "" for l in lines[prev.end:b.line - 1])):
            prev.expected, prev.expected_line = b.text, b.line
            continue
        result.append(b)
    return result


def normalize(text):
    out = [l.rstrip() for l in text.split("\n")]
    while out and out[-1] == "":
        out.pop()
    while out and out[0] == "":
        out.pop(0)
    return out


class Psql:
    """One long-lived psql session; output of each block up to a marker."""

    def __init__(self, env, cwd):
        cmd = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=0"]
        if shutil.which("stdbuf"):   # keep stdout and stderr in order
            cmd = ["stdbuf", "-o0", "-e0"] + cmd
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env, cwd=cwd,
                                     text=True, bufsize=1)
        self.n = 0

    def run(self, text):
        self.n += 1
        marker = "__doctest_block_end_%d__" % self.n
        try:
            self.proc.stdin.write(text + "\n\\echo " + marker + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            return "(psql is not running)", False
        out = []
        watchdog = threading.Timer(BLOCK_TIMEOUT, self.proc.kill)   # a block that hangs
        watchdog.start()
        try:
            return self._read(marker, out)
        finally:
            watchdog.cancel()

    def _read(self, marker, out):
        while True:
            line = self.proc.stdout.readline()
            if line == "":
                out.append("(psql exited with status %s; blocks time out after %d s)"
                           % (self.proc.wait(), BLOCK_TIMEOUT))
                return "\n".join(out), False
            line = line.rstrip("\n")
            if line == marker:
                return "\n".join(out), True
            out.append(PSQL_PREFIX.sub("", line))

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


def admin(env, sql):
    e = dict(env, PGDATABASE="postgres")
    r = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-c", sql],
                       env=e, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError("setup failed: %s\n%s" % (sql, r.stderr))
    return r.stdout


ROLES_SQL = "SELECT quote_ident(rolname) FROM pg_roles WHERE oid >= 16384"
roles_before = None   # the instance's own roles, never dropped


def drop_page_state(env):
    """Drops the database doctest and the roles made since the runner started."""
    global roles_before
    admin(env, "DROP DATABASE IF EXISTS doctest WITH (FORCE)")
    if roles_before is None:
        roles_before = set(admin(env, ROLES_SQL).split())
    roles = [r for r in admin(env, ROLES_SQL).split() if r not in roles_before]
    for r in roles:
        admin(env, "DROP OWNED BY %s CASCADE" % r)
    for r in roles:
        admin(env, "DROP ROLE %s" % r)


def error_lines(lines):
    return [l for l in lines if ERROR_LINE.match(l)]


def run_page(path, args):
    env = dict(os.environ, PGHOST=args.host, PGPORT=str(args.port), PGUSER="postgres",
               PGDATABASE="doctest")
    env.pop("PGPASSWORD", None)
    blocks = parse_blocks(path)
    stats = {"run": 0, "skipped": 0, "compared": 0, "failed": 0}
    drop_page_state(env)
    admin(env, "CREATE DATABASE doctest")
    scratch = tempfile.mkdtemp(prefix="doctest.")
    psql = None
    try:
        for b in blocks:
            first = b.text.split("\n", 1)[0]
            if NOT_RUN.match(first):
                stats["skipped"] += 1
                continue
            if b.lang in DISPLAY:
                continue
            if b.lang not in RUNNABLE:
                report(path, b, "unmarked block in language %s (mark it: not run: <why>)" % b.lang,
                       None, None)
                stats["failed"] += 1
                if not args.keep_going:
                    break
                continue
            stats["run"] += 1
            if b.lang == "sql":
                if psql is None:
                    psql = Psql(env, scratch)
                actual, alive = psql.run(b.text)
                ok_exit = alive
                if not alive:       # a later block starts a new session
                    psql.close()
                    psql = None
            else:
                cmd = ["bash", "-e", "-c", b.text] if b.lang in ("sh", "bash") else \
                      ["python3", "-c", b.text]
                try:
                    r = subprocess.run(cmd, env=env, cwd=scratch, stdout=subprocess.PIPE,
                                       stderr=subprocess.STDOUT, text=True,
                                       timeout=BLOCK_TIMEOUT)
                    actual, ok_exit = r.stdout, r.returncode == 0
                    if not ok_exit:
                        actual += "(exit status %d)" % r.returncode
                except subprocess.TimeoutExpired as e:
                    actual, ok_exit = "%s(timed out after %d s)" % (
                        e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or ""),
                        BLOCK_TIMEOUT), False
            got = normalize(actual)
            if args.show:
                print("=== %s:%d (```%s)\n%s" % (path, b.line, b.lang, "\n".join(got)))
            problem = None
            if b.expected is not None and not NOT_COMPARED.match(b.expected.split("\n", 1)[0]):
                stats["compared"] += 1
                if got != normalize(b.expected):
                    problem = "output differs"
            else:
                want = normalize(b.expected or "")
                missing = [l for l in error_lines(got) if l not in want]
                if missing:
                    problem = "unexpected error"
                elif not ok_exit:
                    problem = "failed"
            if problem is None and b.lang == "sql" and not ok_exit:
                problem = "psql exited"
            if problem:
                stats["failed"] += 1
                report(path, b, problem, b.expected, "\n".join(got))
                if not args.keep_going:
                    break
    finally:
        if psql is not None:
            psql.close()
        shutil.rmtree(scratch, ignore_errors=True)
        drop_page_state(env)
    print("%s: %d blocks run, %d skipped (marked), %d outputs compared%s" % (
        path, stats["run"], stats["skipped"], stats["compared"],
        ", FAILED" if stats["failed"] else ""))
    return stats


def report(path, b, problem, expected, actual):
    print("FAIL %s:%d: %s (```%s block)" % (path, b.line, problem, b.lang))
    print("--- block:\n" + b.text)
    if expected is not None:
        print("--- expected (line %d):\n%s" % (b.expected_line, expected))
    if actual is not None:
        print("--- actual:\n" + actual)
    print("---")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--host", default=os.environ.get("PGHOST"), required="PGHOST" not in os.environ)
    p.add_argument("--port", default=os.environ.get("PGPORT", "5432"))
    p.add_argument("--keep-going", action="store_true",
                   help="run the rest of a page after a failing block")
    p.add_argument("--show", action="store_true",
                   help="print every block's actual output (for writing a page)")
    p.add_argument("pages", nargs="*")
    args = p.parse_args()
    total = {"run": 0, "skipped": 0, "compared": 0, "failed": 0}
    failed_pages = []
    for page in args.pages:
        s = run_page(page, args)
        for k in total:
            total[k] += s[k]
        if s["failed"]:
            failed_pages.append(page)
    print("doctest total: %d pages, %d blocks run, %d skipped (marked), %d outputs compared, "
          "%d failed pages%s" % (len(args.pages), total["run"], total["skipped"], total["compared"],
                                 len(failed_pages),
                                 (": " + " ".join(failed_pages)) if failed_pages else ""))
    sys.exit(1 if failed_pages else 0)


if __name__ == "__main__":
    main()
