#!/usr/bin/env bash
# test/integration/webhooks.sh: the webhook outbox end to end with
# tools/webhook_worker.py and a loopback HTTP receiver (Python) that
# verifies every signature with its own copy of the endpoint's secret.
#
# (a) Events emitted in one transaction for two tenants -> the worker
#     (a member of taskforce_admin, no context) claims and POSTs them ->
#     the receiver verifies each signature over the exact body -> the
#     deliveries are delivered; each arrives once, at its tenant's URL.
# (b) An endpoint whose receiver holds another secret refuses the
#     signature (401): the delivery is not delivered.
# (c) A failing receiver (500): retried with exponential backoff
#     (retry_backoff 1 s: the gaps between attempts are >= 1 s, then
#     >= 2 s), failed after max_attempts (3), and not claimed again.
# (d) Two workers at once over 200 deliveries: each delivered exactly once
#     (the receiver counts them), both workers took part, no lost claim.
# (e) NOTIFY: off by default (no notification); on (ALTER DATABASE), three
#     events in one transaction send one notification whose payload is the
#     transaction id, two transactions two; a worker with --listen wakes up
#     on it long before its poll interval.
# (f) pg_dump / pg_restore: endpoints (secrets included) and deliveries
#     come back identical; the restored outbox continues its ids and signs
#     with the restored secrets.
# (g) In a LATIN1 database the signature covers the UTF-8 bytes POSTed.
set -euo pipefail
. "$(dirname "$0")/../lib.sh"
export PGOPTIONS="-c client_min_messages=warning"

here=$(cd "$(dirname "$0")/../.." && pwd)
dir=$(mktemp -d)
port=55711
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	tf_stop_instance "$dir"
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$dir"/*.log; do
		[ -f "$f" ] && { echo "--- $f"; tail -n 20 "$f"; }
	done
	exit 1
}

tf_start_instance "$dir" "$port"
q() { tf_psql "$dir" "$port" -d postgres -At "$@"; }
dsn="host=$dir port=$port dbname=postgres user=hook_worker"
worker() { python3 "$here/tools/webhook_worker.py" --dsn "$dsn" "$@"; }
# start_worker LOG ARGS...: a worker in the background (python itself, so
# that its pid is $! and SIGTERM reaches it).
start_worker() {
	local log=$1
	shift
	python3 "$here/tools/webhook_worker.py" --dsn "$dsn" "$@" 2>"$log" &
	pids+=($!)
}
# wait_for WHAT EXPECTED SECONDS COMMAND...: polls COMMAND until it prints EXPECTED.
wait_for() {
	local what=$1 expected=$2 limit=$3 got="" start=$SECONDS
	shift 3
	while :; do
		got=$("$@")
		[ "$got" = "$expected" ] && break
		[ $((SECONDS - start)) -lt "$limit" ] || fail "$what: expected '$expected' within ${limit} s, got '$got'"
		sleep 0.2
	done
}

# The receiver: POST /<name> is checked against secrets[<name>] (hex); a
# good signature gets 204 (or 500 for the names in failing), a bad one 401.
# Every request is a JSON line in received.jsonl.
cat >"$dir/receiver.py" <<'EOF'
import hashlib, hmac, http.server, json, sys, threading, time
conf = json.load(open(sys.argv[1]))
out = open(sys.argv[2], "a")
lock = threading.Lock()

class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        name = self.path.strip("/")
        body = self.rfile.read(int(self.headers["Content-Length"]))
        secret = bytes.fromhex(conf["secrets"].get(name, ""))
        expected = "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
        valid = bool(secret) and hmac.compare_digest(expected, self.headers.get("X-Taskforce-Signature", ""))
        code = 401 if not valid else 500 if name in conf["failing"] else 204
        time.sleep(conf.get("delay", 0))
        with lock:
            out.write(json.dumps({"at": time.time(), "endpoint": name, "valid": valid, "code": code,
                                  "delivery": int(self.headers["X-Taskforce-Delivery"]),
                                  "event": self.headers["X-Taskforce-Event"],
                                  "body": body.decode()}) + "\n")
            out.flush()
        self.send_response(code)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[3], "w").write(str(srv.server_address[1]))
srv.serve_forever()
EOF
s_good=$(openssl rand -hex 32)
s_globex=$(openssl rand -hex 32)
s_wrong=$(openssl rand -hex 32)
s_broken=$(openssl rand -hex 32)
cat >"$dir/receiver.json" <<EOF
{"secrets": {"good": "$s_good", "globex": "$s_globex", "wrongkey": "$(openssl rand -hex 32)",
             "broken": "$s_broken"},
 "failing": ["broken"], "delay": 0.003}
EOF
python3 "$dir/receiver.py" "$dir/receiver.json" "$dir/received.jsonl" "$dir/receiver.port" 2>"$dir/receiver.log" &
pids+=($!)
wait_for "receiver listening" yes 10 bash -c "[ -s '$dir/receiver.port' ] && echo yes || echo no"
rport=$(cat "$dir/receiver.port")
url="http://127.0.0.1:$rport"
received() { python3 - "$dir/received.jsonl" "$@" <<'EOF'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
v = eval(sys.argv[2], {"rows": rows, "json": json})
print(" ".join(map(str, v)) if isinstance(v, tuple) else v)
EOF
}

{
q <<EOF
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
CREATE ROLE hook_worker LOGIN IN ROLE taskforce_admin;
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('globex', 'Globex');
SELECT taskforce.create_webhook_endpoint('good', '$url/good', taskforce._event_names(), '\\x$s_good', tenant_id => 'acme');
SELECT taskforce.create_webhook_endpoint('wrongkey', '$url/wrongkey', '{agent_published}', '\\x$s_wrong', tenant_id => 'acme');
SELECT taskforce.create_webhook_endpoint('broken', '$url/broken', '{request_rejected}', '\\x$s_broken',
                                         max_attempts => 3, retry_backoff => '1 second', tenant_id => 'acme');
SELECT taskforce.create_webhook_endpoint('globex', '$url/globex', '{agent_published}', '\\x$s_globex', tenant_id => 'globex');
EOF
} >/dev/null

echo "== (a) emitted -> claimed -> POSTed -> verified -> delivered"
q <<'EOF' >/dev/null
BEGIN;
SELECT taskforce._emit_event('acme', 'request_created', '{"request_id": 1, "title": "publish support-bot 1.0.0"}');
SELECT taskforce._emit_event('acme', 'request_approved',
    '{"request_id": 1, "tenant_id": "acme", "resource_type": "agent", "resource_id": "support-bot", "approved_by": ["bob", "carol"]}');
SELECT taskforce._emit_event('acme', 'agent_published', '{"agent_id": "support-bot", "version": "1.0.0", "note": "caf\u00e9 \u2713"}');
SELECT taskforce._emit_event('globex', 'agent_published', '{"agent_id": "x", "version": "2.0.0"}');
COMMIT;
EOF
tf_check "deliveries queued" "good:3 wrongkey:1 globex:1" \
	"$(q -c "SELECT string_agg(endpoint_id || ':' || count, ' ' ORDER BY min) FROM (SELECT endpoint_id, count(*), min(delivery_id) FROM taskforce.webhook_deliveries GROUP BY 1) AS x")"
worker --once --name w-a 2>"$dir/worker-a.log" || fail "the worker failed"
tf_check "good: each delivery once, signature verified by the receiver" "3 3 3" \
	"$(received "len([r for r in rows if r['endpoint']=='good']), len({r['delivery'] for r in rows if r['endpoint']=='good' and r['valid'] and r['code']==204}), len({r['event'] for r in rows if r['endpoint']=='good'})")"
tf_check "globex's event reached globex's URL only" "1 True agent_published" \
	"$(received "' '.join(str(x) for x in (len([r for r in rows if r['endpoint']=='globex']), all(r['valid'] for r in rows if r['endpoint']=='globex'), [r['event'] for r in rows if r['endpoint']=='globex'][0]))")"
tf_check "the body received is the body stored, byte for byte" "5" \
	"$(python3 - "host=$dir port=$port dbname=postgres user=postgres" "$dir/received.jsonl" <<'EOF'
import json, sys
import psycopg
rows = [json.loads(l) for l in open(sys.argv[2])]
with psycopg.connect(sys.argv[1]) as c:
    stored = dict(c.execute("SELECT delivery_id, body FROM taskforce.webhook_deliveries").fetchall())
print(sum(1 for r in rows if stored.get(r["delivery"]) == r["body"]))
EOF
)"
tf_check "the body is the seed's {event, timestamp, payload}" "event timestamp payload|request_approved|bob,carol" \
	"$(received "(lambda b: ' '.join(k for k, _ in json.loads(b, object_pairs_hook=list)) + '|' + json.loads(b)['event'] + '|' + ','.join(json.loads(b)['payload']['approved_by']))([r for r in rows if r['event'] == 'request_approved'][0]['body'])")"
tf_check "deliveries delivered" "globex:delivered:1:204 good:delivered:1:204" \
	"$(q -c "SELECT string_agg(DISTINCT endpoint_id || ':' || state || ':' || attempts || ':' || last_status, ' ' ORDER BY endpoint_id || ':' || state || ':' || attempts || ':' || last_status) FROM taskforce.webhook_deliveries WHERE endpoint_id IN ('good', 'globex')")"

echo "== (b) a receiver with another secret refuses the signature"
tf_check "wrongkey: refused by the receiver (401), not delivered" "401 False pending 401" \
	"$(received "' '.join(str(x) for x in ([r['code'] for r in rows if r['endpoint']=='wrongkey'][0], [r['valid'] for r in rows if r['endpoint']=='wrongkey'][0]))") $(q -c "SELECT state || ' ' || last_status FROM taskforce.webhook_deliveries WHERE endpoint_id = 'wrongkey'")"
q -c "SELECT taskforce.disable_webhook_endpoint('wrongkey', 'acme')" >/dev/null

echo "== (c) a failing receiver: retries with backoff, failed after max_attempts"
q -c "SELECT taskforce._emit_event('acme', 'request_rejected', '{\"request_id\": 2}')" >/dev/null
start_worker "$dir/worker-c.log" --poll 0.1 --name w-c
wpid=$!
wait_for "broken delivery failed" "failed 3" 20 q -c "SELECT state || ' ' || attempts FROM taskforce.webhook_deliveries WHERE endpoint_id = 'broken'"
sleep 1.5
kill "$wpid"
wait "$wpid" || fail "the worker did not stop cleanly"
tf_check "three attempts reached the receiver, no more" "3" "$(received "len([r for r in rows if r['endpoint']=='broken'])")"
tf_check "gaps between attempts (backoff 1 s, 2 s)" "True True" \
	"$(received "(lambda t: ' '.join(str(b - a >= m) for a, b, m in zip(t, t[1:], [1.0, 2.0])))([r['at'] for r in rows if r['endpoint'] == 'broken'])")"
tf_check "the failed delivery's record" "failed|3|500|HTTP 500 Internal Server Error" \
	"$(q -c "SELECT concat_ws('|', state, attempts, last_status, last_error) FROM taskforce.webhook_deliveries WHERE endpoint_id = 'broken'")"

echo "== (d) two workers at once: every delivery exactly once"
q <<'EOF' >/dev/null
SELECT taskforce._emit_event('acme', 'request_created', jsonb_build_object('request_id', 100 + i))
  FROM generate_series(1, 100) AS i;
SELECT taskforce._emit_event('acme', 'request_expired', jsonb_build_object('request_id', 100 + i))
  FROM generate_series(1, 100) AS i;
EOF
before=$(received "len(rows)")
start_worker "$dir/worker-d1.log" --poll 0.1 --batch 3 --lease 40 --name w-d1
w1=$!
start_worker "$dir/worker-d2.log" --poll 0.1 --batch 3 --lease 40 --name w-d2
w2=$!
wait_for "200 deliveries delivered" 0 60 q -c "SELECT count(*) FROM taskforce.webhook_deliveries WHERE endpoint_id = 'good' AND state <> 'delivered'"
kill "$w1" "$w2"
wait "$w1" || fail "worker 1 did not stop cleanly"
wait "$w2" || fail "worker 2 did not stop cleanly"
tf_check "requests received / distinct deliveries / all verified" "200 200 True" \
	"$(received "' '.join(str(x) for x in (len(rows[$before:]), len({r['delivery'] for r in rows[$before:]}), all(r['valid'] and r['code']==204 for r in rows[$before:])))")"
tf_check "both workers delivered" "2" \
	"$(q -c "SELECT count(DISTINCT claimed_by) FROM taskforce.webhook_deliveries WHERE claimed_by IN ('w-d1', 'w-d2')")"
tf_check "no claim lost or completed twice" "0" "$(cat "$dir"/worker-d*.log | grep -c 'not claimed' || true)"

echo "== (e) NOTIFY taskforce_events: one id-only wake-up per transaction"
cat >"$dir/notify.py" <<'EOF'
import os, select, sys, time
import psycopg
dsn = sys.argv[1]
listener = psycopg.connect(dsn, autocommit=True)
listener.execute("LISTEN taskforce_events")
def collect(seconds):
    got, end = [], time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        if select.select([listener.fileno()], [], [], left)[0]:
            listener.pgconn.consume_input()
            while (n := listener.pgconn.notifies()) is not None:
                got.append((n.relname.decode(), n.extra.decode()))
    return got
def emit_three(conn):
    with conn.transaction():
        txid = conn.execute("SELECT txid_current()").fetchone()[0]
        for e in ("request_created", "request_approved", "agent_published"):
            conn.execute("SELECT taskforce._emit_event('acme', %s, '{}')", (e,))
    return str(txid)
with psycopg.connect(dsn, autocommit=True) as conn:
    emit_three(conn)
    off = collect(1.0)
with psycopg.connect(dsn, autocommit=True) as conn:
    conn.execute("ALTER DATABASE postgres SET taskforce.notify_events = on")
with psycopg.connect(dsn, autocommit=True) as conn:
    t1 = emit_three(conn)
    one = collect(1.0)
    t2, t3 = emit_three(conn), emit_three(conn)
    two = collect(1.0)
print(len(off), one == [("taskforce_events", t1)], two == [("taskforce_events", t2), ("taskforce_events", t3)])
EOF
tf_check "off: none; on: one per transaction, payload the txid" "0 True True" \
	"$(python3 "$dir/notify.py" "host=$dir port=$port dbname=postgres user=postgres")"
# A worker with --listen and a 30 s poll wakes up on the notification.
worker --once --name w-e0 2>/dev/null
start_worker "$dir/worker-e.log" --listen --poll 30 --name w-e
we=$!
sleep 1
q -c "SELECT taskforce._emit_event('acme', 'agent_published', '{\"agent_id\": \"wake-up\"}')" >/dev/null
wait_for "woken worker delivered" delivered 5 q -c "SELECT state FROM taskforce.webhook_deliveries WHERE endpoint_id = 'good' AND body LIKE '%wake-up%'"
kill "$we"
wait "$we" || fail "the listening worker did not stop cleanly"
q -c "ALTER DATABASE postgres RESET taskforce.notify_events" >/dev/null

echo "== (f) pg_dump / pg_restore keeps endpoints (secrets included) and the outbox"
pg_dump -h "$dir" -p "$port" -U postgres -Fc -f "$dir/src.dump" postgres 2>"$dir/pg_dump.log" || fail "pg_dump failed"
createdb -h "$dir" -p "$port" -U postgres restored || fail "createdb restored"
pg_restore -h "$dir" -p "$port" -U postgres --exit-on-error -d restored "$dir/src.dump" 2>"$dir/pg_restore.log" || fail "pg_restore failed"
figures="SELECT (SELECT md5(string_agg(e::text, ',' ORDER BY tenant_id, endpoint_id)) FROM taskforce.webhook_endpoints AS e)
              || ' ' || (SELECT md5(string_agg(d::text, ',' ORDER BY delivery_id)) FROM taskforce.webhook_deliveries AS d)"
tf_check "endpoints and deliveries identical after restore" "$(q -c "$figures")" \
	"$(tf_psql "$dir" "$port" -d restored -At -c "$figures")"
tf_check "the restored outbox continues its ids and signs with the restored secret" "t t" \
	"$(tf_psql "$dir" "$port" -d restored -At -F " " <<'EOF'
SELECT taskforce._emit_event('acme', 'agent_published', '{"agent_id": "after-restore"}') \g /dev/null
SELECT d.delivery_id > (SELECT max(x.delivery_id) FROM taskforce.webhook_deliveries AS x WHERE x.body NOT LIKE '%after-restore%'),
       d.signature = 'sha256=' || encode(hmac(convert_to(d.body, 'UTF8'), e.secret, 'sha256'), 'hex')
  FROM taskforce.webhook_deliveries AS d JOIN taskforce.webhook_endpoints AS e USING (tenant_id, endpoint_id)
 WHERE d.body LIKE '%after-restore%' AND d.endpoint_id = 'good';
EOF
)"

echo "== (g) a LATIN1 database signs the UTF-8 bytes it POSTs"
createdb -h "$dir" -p "$port" -U postgres -E LATIN1 -T template0 --locale=C latin1 || fail "createdb latin1"
tf_psql "$dir" "$port" -d latin1 -At >/dev/null <<EOF
CREATE EXTENSION taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
SELECT count(*) FROM taskforce.create_tenant('acme', 'Acme');
SELECT taskforce.create_webhook_endpoint('good', '$url/good', '{agent_published}', '\\x$s_good', tenant_id => 'acme');
SELECT taskforce._emit_event('acme', 'agent_published', '{"agent_id": "latin1-caf\\u00e9"}');
EOF
tf_check "signed over the UTF-8 bytes, not the LATIN1 ones" "t f" \
	"$(tf_psql "$dir" "$port" -d latin1 -At -F " " -c "
	SELECT d.signature = 'sha256=' || encode(hmac(convert_to(d.body, 'UTF8'), e.secret, 'sha256'), 'hex'),
	       d.signature = 'sha256=' || encode(hmac(convert_to(d.body, 'LATIN1'), e.secret, 'sha256'), 'hex')
	  FROM taskforce.webhook_deliveries AS d JOIN taskforce.webhook_endpoints AS e USING (tenant_id, endpoint_id)")"
python3 "$here/tools/webhook_worker.py" --dsn "host=$dir port=$port dbname=latin1 user=hook_worker" --once --name w-g \
	2>"$dir/worker-g.log" || fail "the worker failed on latin1"
tf_check "the receiver verified it" "True 204" \
	"$(received "' '.join(str(x) for x in [(r['valid'], r['code']) for r in rows if 'latin1-caf\u00e9' in r['body']][0])")"

echo "ok: webhooks"
