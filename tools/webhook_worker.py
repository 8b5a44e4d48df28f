#!/usr/bin/env python3
"""webhook_worker: delivers taskforce's webhook outbox (docs/lifecycle_events.md).

Claims due deliveries with taskforce.claim_deliveries() (FOR UPDATE SKIP
LOCKED, under a lease, so any number of workers can run side by side),
POSTs each delivery's body exactly as stored, with the headers

    Content-Type: application/json
    X-Taskforce-Signature: sha256=<hex HMAC-SHA256 of the body under the endpoint's secret>
    X-Taskforce-Event: <event>
    X-Taskforce-Delivery: <delivery id>

and reports the outcome with taskforce.complete_delivery(): a 2xx response
is delivered; anything else (another status, a redirect, a timeout, a
refused connection) is a failed attempt, retried by the database with the
endpoint's backoff until its max_attempts.  The worker never sees a secret:
the signature was made in the database when the event was emitted.

Connect as a member of the admin database role (taskforce_admin), without a
context.  The connection string comes from --dsn or the usual libpq
environment (PGHOST, PGDATABASE, ...).

Exit status: 0 stopped (SIGTERM, SIGINT, or --once with nothing left due),
1 database error, 2 usage error.
"""
import argparse
import os
import select
import signal
import socket
import sys
import time
import urllib.error
import urllib.request

import psycopg

CHANNEL = "taskforce_events"
USER_AGENT = "taskforce-webhook-worker/0.7.0"


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """A webhook is POSTed to its URL only: a redirect is a failed attempt."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        return None


OPENER = urllib.request.build_opener(NoRedirect)


def post(url, body, signature, event, delivery_id, timeout):
    """POSTs one delivery; returns (ok, http_status or None, error or None)."""
    req = urllib.request.Request(url, data=body.encode("utf-8"), method="POST", headers={
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Taskforce-Signature": signature,
        "X-Taskforce-Event": event,
        "X-Taskforce-Delivery": str(delivery_id),
    })
    try:
        with OPENER.open(req, timeout=timeout) as resp:
            resp.read(65536)
            status = resp.status
    except urllib.error.HTTPError as e:
        return False, e.code, "HTTP %d %s" % (e.code, e.reason)
    except (urllib.error.URLError, OSError, ValueError) as e:
        reason = getattr(e, "reason", e)
        return False, None, "%s: %s" % (type(reason).__name__, reason)
    if 200 <= status < 300:
        return True, status, None
    return False, status, "HTTP %d" % status


class Worker:
    def __init__(self, args):
        self.args = args
        self.stopping = False
        self.conn = None
        self.listener = None

    def log(self, msg):
        if not self.args.quiet:
            print("webhook_worker %s: %s" % (self.args.name, msg), file=sys.stderr, flush=True)

    def connect(self):
        self.conn = psycopg.connect(self.args.dsn, autocommit=True, application_name="taskforce webhook_worker")
        if self.args.listen:
            self.listener = psycopg.connect(self.args.dsn, autocommit=True,
                                            application_name="taskforce webhook_worker listener")
            self.listener.execute("LISTEN " + CHANNEL)

    def close(self):
        for c in (self.conn, self.listener):
            if c is not None:
                try:
                    c.close()
                except psycopg.Error:
                    pass
        self.conn = self.listener = None

    def claim(self):
        return self.conn.execute(
            "SELECT delivery_id, url, event, body, signature, attempts"
            "  FROM taskforce.claim_deliveries(%s, %s, make_interval(secs => %s))",
            (self.args.name, self.args.batch, self.args.lease)).fetchall()

    def deliver(self, row):
        delivery_id, url, event, body, signature, attempts = row
        ok, status, error = post(url, body, signature, event, delivery_id, self.args.timeout)
        try:
            state = self.conn.execute(
                "SELECT taskforce.complete_delivery(%s, %s, %s, %s, %s)",
                (delivery_id, self.args.name, ok, status, error)).fetchone()[0]
        except psycopg.errors.ObjectNotInPrerequisiteState as e:
            # The lease expired and another worker took the delivery over.
            self.log("delivery %d: %s" % (delivery_id, e.diag.message_primary))
            return
        self.log("delivery %d (%s, attempt %d) to %s: %s%s" % (
            delivery_id, event, attempts, url, state,
            "" if ok else " (%s)" % error))

    def wait(self):
        """Sleeps up to --poll seconds; with --listen, wakes up on a notification."""
        if self.listener is None:
            end = time.monotonic() + self.args.poll
            while not self.stopping and time.monotonic() < end:
                time.sleep(min(0.2, max(0.0, end - time.monotonic())))
            return
        pg = self.listener.pgconn
        end = time.monotonic() + self.args.poll
        while not self.stopping:
            left = end - time.monotonic()
            if left <= 0:
                return
            ready, _, _ = select.select([self.listener.fileno()], [], [], min(left, 0.5))
            if ready:
                pg.consume_input()
                woken = False
                while pg.notifies() is not None:
                    woken = True
                if woken:
                    return

    def run(self):
        retry_connect = 1.0
        while not self.stopping:
            try:
                if self.conn is None:
                    self.connect()
                    retry_connect = 1.0
                rows = self.claim()
                lease_end = time.monotonic() + self.args.lease
                for row in rows:
                    # Past the lease another worker may hold the row:
                    # leave it to be claimed again.
                    if time.monotonic() + self.args.timeout >= lease_end:
                        self.log("delivery %d: lease too short to post it, left to expire" % row[0])
                        continue
                    self.deliver(row)
                if not rows:
                    if self.args.once:
                        return 0
                    self.wait()
            except psycopg.OperationalError as e:
                # The connection is gone: reconnect; claimed deliveries
                # come back when their leases expire.
                if self.args.once:
                    print("webhook_worker: %s" % e, file=sys.stderr)
                    return 1
                self.log("database connection lost (%s); reconnecting in %.0f s" % (e, retry_connect))
                self.close()
                time.sleep(retry_connect)
                retry_connect = min(retry_connect * 2, 60.0)
            except psycopg.Error as e:
                print("webhook_worker: %s" % e, file=sys.stderr)
                return 1
        return 0


def main(argv=None):
    p = argparse.ArgumentParser(description="Delivers taskforce's webhook outbox.")
    p.add_argument("--dsn", default="", help="libpq connection string (default: the PG* environment)")
    p.add_argument("--name", default="%s:%d" % (socket.gethostname(), os.getpid()),
                   help="this worker's name, unique among running workers (default host:pid)")
    p.add_argument("--batch", type=int, default=5, help="deliveries claimed at a time (1-1000, default 5)")
    p.add_argument("--lease", type=float, default=60.0,
                   help="seconds a claim lasts, longer than --batch times --timeout (default 60)")
    p.add_argument("--timeout", type=float, default=10.0, help="HTTP timeout in seconds (default 10)")
    p.add_argument("--poll", type=float, default=5.0, help="seconds between claims when idle (default 5)")
    p.add_argument("--listen", action="store_true",
                   help="also wake up on NOTIFY taskforce_events (needs taskforce.notify_events on)")
    p.add_argument("--once", action="store_true", help="deliver what is due, then exit")
    p.add_argument("--quiet", action="store_true", help="log nothing but errors")
    args = p.parse_args(argv)
    if not 1 <= args.batch <= 1000:
        p.error("--batch must be between 1 and 1000")
    if args.timeout <= 0 or args.poll <= 0:
        p.error("--timeout and --poll must be positive")
    if args.lease < 1 or args.lease <= args.batch * args.timeout:
        p.error("--lease must be at least 1 second and longer than --batch times --timeout")
    worker = Worker(args)

    def stop(signum, frame):
        worker.stopping = True
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        return worker.run()
    finally:
        worker.close()


if __name__ == "__main__":
    sys.exit(main())
