-- events: the webhook outbox (issue 11, LIFE_SPEC section 5).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
RESET client_min_messages;
SELECT count(*) FROM taskforce.create_tenant('ev-acme', 'Acme');
SELECT taskforce.create_webhook_endpoint('hook-1', 'http://127.0.0.1:9/hook', '{request_approved}',
    convert_to('0123456789abcdef-secret', 'UTF8'), tenant_id => 'ev-acme');
SELECT taskforce._emit_event('ev-acme', 'request_approved', '{"request_id": 7, "approved_by": ["bob", "carol"]}');
SELECT delivery_id, endpoint_id, event, body, signature,
       signature = 'sha256=' || encode(hmac(convert_to(body, 'UTF8'), convert_to('0123456789abcdef-secret', 'UTF8'), 'sha256'), 'hex') AS verifies
  FROM taskforce.webhook_deliveries;
SELECT * FROM taskforce.claim_deliveries('w1');
