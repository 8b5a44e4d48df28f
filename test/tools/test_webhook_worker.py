"""Unit tests of tools/webhook_worker.py without a database: what one POST
sends (the stored body byte for byte, the signature and event headers) and
how each kind of answer counts (2xx delivered; other statuses, redirects,
timeouts and refused connections failed), and the argument checks.
test/integration/webhooks.sh runs it end to end against a database."""
import contextlib, hashlib, hmac, http.server, importlib.util, io, os, socket, threading, unittest

here = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("webhook_worker", os.path.join(here, "../../tools/webhook_worker.py"))
ww = importlib.util.module_from_spec(spec)
spec.loader.exec_module(ww)

SECRET = b"unit-test-secret-0123456789"


class Receiver(http.server.BaseHTTPRequestHandler):
    """Answers by path: /ok 204, /fail 500, /redirect 302 to /ok, /slow waits."""
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.seen.append((self.path, dict(self.headers), body))
        if self.path == "/slow":
            threading.Event().wait(2)
        code = {"/ok": 204, "/fail": 500, "/redirect": 302, "/slow": 200}.get(self.path, 404)
        self.send_response(code)
        if code == 302:
            self.send_header("Location", "/ok")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *a):
        pass


class PostTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
        cls.base = "http://127.0.0.1:%d" % cls.server.server_address[1]
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()

    def setUp(self):
        Receiver.seen.clear()

    def sign(self, body):
        return "sha256=" + hmac.new(SECRET, body.encode(), hashlib.sha256).hexdigest()

    def test_sends_body_and_headers_exactly(self):
        body = '{"event": "agent_published", "timestamp": "2026-01-15T10:30:00Z", "payload": {"name": "caf\u00e9"}}'
        ok, status, error = ww.post(self.base + "/ok", body, self.sign(body), "agent_published", 42, 5)
        self.assertEqual((ok, status, error), (True, 204, None))
        path, headers, got = Receiver.seen[0]
        self.assertEqual(got, body.encode("utf-8"))
        self.assertEqual(headers["X-Taskforce-Signature"], self.sign(body))
        self.assertTrue(hmac.compare_digest(
            headers["X-Taskforce-Signature"],
            "sha256=" + hmac.new(SECRET, got, hashlib.sha256).hexdigest()))
        self.assertEqual(headers["X-Taskforce-Event"], "agent_published")
        self.assertEqual(headers["X-Taskforce-Delivery"], "42")
        self.assertEqual(headers["Content-Type"], "application/json")

    def test_error_status_fails(self):
        self.assertEqual(ww.post(self.base + "/fail", "{}", "sha256=00", "e", 1, 5),
                         (False, 500, "HTTP 500 Internal Server Error"))

    def test_redirect_is_not_followed(self):
        ok, status, _ = ww.post(self.base + "/redirect", "{}", "sha256=00", "e", 1, 5)
        self.assertEqual((ok, status), (False, 302))
        self.assertEqual([p for p, _, _ in Receiver.seen], ["/redirect"])

    def test_timeout_fails_without_status(self):
        ok, status, error = ww.post(self.base + "/slow", "{}", "sha256=00", "e", 1, 0.5)
        self.assertEqual((ok, status), (False, None))
        self.assertIn("timed out", error)

    def test_refused_connection_fails_without_status(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        ok, status, error = ww.post("http://127.0.0.1:%d/" % port, "{}", "sha256=00", "e", 1, 2)
        self.assertEqual((ok, status), (False, None))
        self.assertIn("refused", error.lower())


class ArgumentsTest(unittest.TestCase):
    def refused(self, *argv):
        with contextlib.redirect_stderr(io.StringIO()) as err, self.assertRaises(SystemExit) as e:
            ww.main(list(argv))
        self.assertEqual(e.exception.code, 2)
        return err.getvalue()

    def test_lease_must_cover_a_batch(self):
        self.assertIn("--lease", self.refused("--lease", "30", "--batch", "5", "--timeout", "10"))

    def test_batch_range(self):
        self.assertIn("--batch", self.refused("--batch", "0"))


if __name__ == "__main__":
    unittest.main()
