-- events: webhook endpoints and the signed outbox (issue 11, LIFE_SPEC
-- section 5) as an application and a delivery worker use them: endpoint
-- management and its denials, secrets unreadable by the application, BI
-- and auditor roles, another tenant's endpoints invisible, the exact body
-- and its signature checked independently with pgcrypto's hmac(), the
-- audit entry of an event, claiming under a lease (the claim checked on
-- completion), retries with exponential backoff, failure after the
-- endpoint's max_attempts, lease expiry, secret rotation, disabled
-- endpoints, and the notify_events setting.  Trusted middleware (ev_admin)
-- establishes each request's context with act_as; requests run as the
-- application role ev_app; the delivery worker is ev_worker (admin role).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS ev_app, ev_admin, ev_worker, ev_auditor, ev_bi;
CREATE ROLE ev_app LOGIN IN ROLE taskforce_app;
CREATE ROLE ev_admin LOGIN IN ROLE taskforce_admin;
CREATE ROLE ev_worker LOGIN IN ROLE taskforce_admin;
CREATE ROLE ev_auditor LOGIN IN ROLE taskforce_auditor;
CREATE ROLE ev_bi LOGIN IN ROLE taskforce_bi;
GRANT ev_app TO ev_admin;
SELECT count(*) FROM taskforce.create_tenant('wh-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('wh-globex', 'Globex');
-- The secrets of the test, and the independent signature check: pgcrypto's
-- HMAC-SHA256 of the body's UTF-8 bytes.
CREATE FUNCTION public.ev_secret(n integer) RETURNS bytea
    LANGUAGE sql IMMUTABLE AS $$ SELECT convert_to('ev-secret-number-' || n, 'UTF8') $$;
CREATE FUNCTION public.ev_sign(body text, secret bytea) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT 'sha256=' || encode(hmac(convert_to(body, 'UTF8'), secret, 'sha256'), 'hex') $$;
-- Bodies with the time replaced, to compare them.
CREATE FUNCTION public.ev_body(body text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$
    SELECT regexp_replace(body, '"timestamp": "\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"', '"timestamp": "<utc time>"') $$;
-- The outbox is shared by every suite of this database: this suite's
-- deliveries are numbered from 1001 (fewer than 1000 exist before it), and
-- the others' due ones are held (as if claimed for a day) while it claims
-- and restored at its end.
SELECT coalesce(max(delivery_id), 0) < 1000 AS room FROM taskforce.webhook_deliveries;
SELECT setval('taskforce.webhook_deliveries_delivery_id_seq', 1000);
CREATE TABLE public.ev_held AS
    SELECT tenant_id, delivery_id, state, claimed_by, lease_until, next_attempt_at, attempts
      FROM taskforce.webhook_deliveries WHERE state IN ('pending', 'delivering');
UPDATE taskforce.webhook_deliveries
   SET state = 'delivering', claimed_by = 'ev-suite-hold', lease_until = 'infinity', next_attempt_at = 'infinity'
 WHERE state IN ('pending', 'delivering');
RESET client_min_messages;

-- Users: wendy manages webhooks (custom role hooks: workflow:manage), olive
-- holds no role; gina is an admin of globex.
\c - ev_admin
SELECT role_name, permissions FROM taskforce.create_role('hooks', '{workflow:manage}', tenant_id => 'wh-acme');
SELECT count(*) FROM unnest(ARRAY['wendy', 'olive']) AS u, taskforce.create_user(u, u, tenant_id => 'wh-acme') AS cu;
SELECT role_name FROM taskforce.grant_role('wendy', 'hooks', tenant_id => 'wh-acme');
SELECT user_id FROM taskforce.create_user('gina', 'gina', tenant_id => 'wh-globex');
SELECT role_name FROM taskforce.grant_role('gina', 'admin', tenant_id => 'wh-globex');

-- 1. Endpoints, as wendy.  The events are kept sorted and without
-- duplicates; the function returns nothing.
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SELECT taskforce.create_webhook_endpoint('approvals', 'https://hooks.example.com/approvals',
    '{request_approved,request_created,request_approved}', public.ev_secret(1));
SELECT taskforce.create_webhook_endpoint('everything', 'http://127.0.0.1:8080/all?src=taskforce',
    taskforce._event_names(), public.ev_secret(2), max_attempts => 2, retry_backoff => '0');
SELECT taskforce.create_webhook_endpoint('publish', 'https://hooks.example.com/publish',
    '{agent_published}', public.ev_secret(3), max_attempts => 20, retry_backoff => '10 seconds');
SELECT endpoint_id, url, events, enabled, max_attempts, retry_backoff, secret_rotated_at
  FROM taskforce.webhook_endpoints ORDER BY endpoint_id;
COMMIT;
-- Changing an endpoint: nulls keep a field.
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SELECT taskforce.create_webhook_endpoint('temp', 'https://old.example.com/', '{request_created}', public.ev_secret(5));
SELECT taskforce.update_webhook_endpoint('temp', url => 'https://new.example.com/hook',
                                         events => '{request_expired,request_created}', max_attempts => 3);
SELECT endpoint_id, url, events, max_attempts, retry_backoff FROM taskforce.webhook_endpoints WHERE endpoint_id = 'temp';
SAVEPOINT s;
SELECT taskforce.update_webhook_endpoint('temp', url => 'mailto:x@example.com');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.update_webhook_endpoint('temp', retry_backoff => '-1 second');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- Endpoint errors: bad values (22023, with the valid ones in the hint),
-- nulls (22004), a duplicate (42710), an unknown endpoint (42704).
\set VERBOSITY default
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SAVEPOINT s;
SELECT taskforce.create_webhook_endpoint('bad url', 'https://x.example.com/', '{agent_published}', public.ev_secret(1));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('ftp', 'ftp://x.example.com/', '{agent_published}', public.ev_secret(1));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('nohost', 'https:///path', '{agent_published}', public.ev_secret(1));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('typo', 'https://x.example.com/', '{agent_publish}', public.ev_secret(1));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('none', 'https://x.example.com/', '{}', public.ev_secret(1));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('nullevent', 'https://x.example.com/', ARRAY[NULL], public.ev_secret(1));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('short', 'https://x.example.com/', '{agent_published}', '\x00010203');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('many', 'https://x.example.com/', '{agent_published}', public.ev_secret(1),
                                         max_attempts => 0);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('slow', 'https://x.example.com/', '{agent_published}', public.ev_secret(1),
                                         retry_backoff => '2 days');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('nosecret', 'https://x.example.com/', '{agent_published}', NULL);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('approvals', 'https://x.example.com/', '{agent_published}', public.ev_secret(1));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.disable_webhook_endpoint('nosuch');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.rotate_webhook_secret('approvals', '\x0102');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;

-- olive holds no workflow:manage: every management call is refused (42501).
BEGIN;
SELECT taskforce.act_as('wh-acme', 'olive');
SET LOCAL ROLE ev_app;
SAVEPOINT s;
SELECT taskforce.create_webhook_endpoint('mine', 'https://x.example.com/', '{agent_published}', public.ev_secret(9));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.disable_webhook_endpoint('approvals');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.rotate_webhook_secret('approvals', public.ev_secret(9));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
\set VERBOSITY terse

-- 2. Secrets.  The application role reads every column but the secret;
-- the secret is refused (42501) to it and, like the whole table, to the
-- auditor and BI roles, with or without a context.
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SAVEPOINT s;
SELECT secret FROM taskforce.webhook_endpoints;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT * FROM taskforce.webhook_endpoints;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT count(*) FROM taskforce.webhook_endpoints WHERE secret IS NOT NULL;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- Nor through a function that would sign something with it.
SELECT taskforce._webhook_signature('\x00', 'x');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
\c - ev_auditor
SELECT secret FROM taskforce.webhook_endpoints;
\echo :LAST_ERROR_SQLSTATE
\c - ev_bi
SELECT secret FROM taskforce.webhook_endpoints;
\echo :LAST_ERROR_SQLSTATE
-- The worker (admin role) sees no secret either.
\c - ev_worker
SELECT secret FROM taskforce.webhook_endpoints;
\echo :LAST_ERROR_SQLSTATE

-- 3. Another tenant's endpoints: gina (admin of globex) sees none of
-- acme's, and naming one is "does not exist" (42704), not a denial.
\c - ev_admin
BEGIN;
SELECT taskforce.act_as('wh-globex', 'gina');
SET LOCAL ROLE ev_app;
SELECT count(*) FROM taskforce.webhook_endpoints;
SAVEPOINT s;
SELECT taskforce.disable_webhook_endpoint('approvals');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.rotate_webhook_secret('approvals', public.ev_secret(9));
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('g1', 'https://globex.example.com/', '{request_created}', public.ev_secret(4),
                                         tenant_id => 'wh-acme');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.create_webhook_endpoint('g1', 'https://globex.example.com/', '{request_created}', public.ev_secret(4));
COMMIT;

-- 4. Emitting is taskforce's own: the application and admin roles may not
-- call _emit_event (42501).
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SELECT taskforce._emit_event('wh-acme', 'request_created', '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT taskforce._emit_event('wh-acme', 'request_created', '{}');
\echo :LAST_ERROR_SQLSTATE

-- As the owner (in the tests; taskforce's functions in use): one delivery
-- per enabled subscribed endpoint of the tenant, none for globex's g1.
\c - postgres
SELECT taskforce._emit_event('wh-acme', 'request_approved',
    '{"request_id": 7, "tenant_id": "wh-acme", "resource_type": "agent", "resource_id": "support-bot", "approved_by": ["bob", "carol"]}');
SELECT taskforce._emit_event('wh-acme', 'agent_published', '{"agent_id": "support-bot", "version": "1.0.0"}');
SELECT taskforce._emit_event('wh-acme', 'release_released', '{}');
SELECT taskforce._emit_event('wh-globex', 'agent_published', '{"agent_id": "x"}');
-- The body is the exact JSON text sent, keys in the seed's order; the
-- signature verifies with the endpoint's secret (pgcrypto, independently)
-- and with no other endpoint's.
SELECT d.delivery_id, d.endpoint_id, d.event, public.ev_body(d.body) AS body, d.state, d.attempts,
       d.signature = public.ev_sign(d.body, e.secret) AS verifies,
       d.signature = public.ev_sign(d.body, public.ev_secret(9)) AS verifies_other
  FROM taskforce.webhook_deliveries AS d
  JOIN taskforce.webhook_endpoints AS e USING (tenant_id, endpoint_id)
 WHERE d.tenant_id LIKE 'wh-%'
 ORDER BY d.delivery_id;
-- The body parses, and its timestamp is the emitting transaction's time in UTC.
SELECT DISTINCT (body::jsonb->>'timestamp')::timestamptz <= now() AND body::json->>'event' = event
  FROM taskforce.webhook_deliveries WHERE tenant_id LIKE 'wh-%';
-- Bad events: unknown (22023, the valid ones in the hint), a payload that
-- is no object (22023), an unknown tenant (42704), nulls (22004).
\set VERBOSITY default
SELECT taskforce._emit_event('wh-acme', 'agent_deleted', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce._emit_event('wh-acme', 'agent_published', '[1, 2]');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce._emit_event('wh-nosuch', 'agent_published', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce._emit_event('wh-acme', 'agent_published', NULL);
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- Each event is one audit entry (event_type 'event'), with its payload
-- and how many deliveries it queued.
SELECT tenant_id, event_type, object, row_key, action, new_values - 'timestamp' AS new_values
  FROM taskforce.audit_log WHERE event_type = 'event' AND tenant_id LIKE 'wh-%' ORDER BY txid, entry_seq;

-- 5. The outbox as the application sees it: its tenant's deliveries, read
-- only; no claim, no completion, no insert, no change.
\c - ev_admin
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SELECT delivery_id, endpoint_id, event, state FROM taskforce.webhook_deliveries ORDER BY delivery_id;
SAVEPOINT s;
SELECT * FROM taskforce.claim_deliveries('sneaky');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.complete_delivery(1001, 'sneaky', true);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.retry_delivery(1001);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
INSERT INTO taskforce.webhook_deliveries (tenant_id, endpoint_id, event, body, signature)
VALUES ('wh-acme', 'approvals', 'request_approved', '{}', 'sha256=00');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
UPDATE taskforce.webhook_deliveries SET state = 'delivered';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
UPDATE taskforce.webhook_endpoints SET url = 'https://evil.example.com/';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('wh-globex', 'gina');
SET LOCAL ROLE ev_app;
SELECT delivery_id, endpoint_id, event FROM taskforce.webhook_deliveries ORDER BY delivery_id;
ROLLBACK;
-- Without a context the application role sees no endpoint and no delivery.
SET ROLE ev_app;
SELECT (SELECT count(*) FROM taskforce.webhook_deliveries) AS deliveries,
       (SELECT count(*) FROM taskforce.webhook_endpoints) AS endpoints;
RESET ROLE;

-- 6. Delivery, as the worker (admin role).  Claims are exclusive: what
-- one worker claimed, no other gets while the lease lasts.
\c - ev_worker
SELECT delivery_id, tenant_id, endpoint_id, url, event, attempts,
       lease_until BETWEEN now() + interval '59 seconds' AND now() + interval '61 seconds' AS leased
  FROM taskforce.claim_deliveries('w1', 3);
SELECT delivery_id, endpoint_id, attempts FROM taskforce.claim_deliveries('w2');
SELECT count(*) FROM taskforce.claim_deliveries('w3');
\c - postgres
SELECT delivery_id, state, attempts, claimed_by, lease_until IS NOT NULL AS leased
  FROM taskforce.webhook_deliveries WHERE tenant_id LIKE 'wh-%' ORDER BY delivery_id;
-- Completion checks the claim: another worker (55000), an unknown delivery
-- (42704), a bad status (22023), nulls (22004); so do the claim's arguments.
\c - ev_worker
\set VERBOSITY default
SELECT taskforce.complete_delivery(1001, 'w2', true, 200);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.complete_delivery(99999, 'w1', true, 200);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.complete_delivery(1001, 'w1', true, 1000);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.complete_delivery(1001, NULL, true);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.claim_deliveries('w3', 0);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.claim_deliveries('', 1);
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce.claim_deliveries('w3', 1, '0');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- Delivered; once done, not again (55000).
SELECT taskforce.complete_delivery(1001, 'w1', true, 204);
SELECT taskforce.complete_delivery(1001, 'w1', true, 204);
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.complete_delivery(1002, 'w1', true, 200);
SELECT taskforce.complete_delivery(1005, 'w2', true, 202);
-- A failure with backoff: "publish" waits 10 s * 2^(attempts - 1).
SELECT taskforce.complete_delivery(1004, 'w2', false, 503, 'service unavailable');
\c - postgres
SELECT delivery_id, state, attempts, claimed_by, last_status, last_error,
       next_attempt_at - clock_timestamp() BETWEEN interval '9 seconds' AND interval '10 seconds' AS backoff_10s
  FROM taskforce.webhook_deliveries WHERE delivery_id = 1004;
-- "everything" allows 2 attempts without backoff: fail, claim, fail ->
-- failed, and no more claims.
\c - ev_worker
SELECT taskforce.complete_delivery(1003, 'w1', false, NULL, 'connection refused');
SELECT delivery_id, attempts FROM taskforce.claim_deliveries('w1', 10);
SELECT taskforce.complete_delivery(1003, 'w1', false, 500, 'internal server error');
SELECT count(*) FROM taskforce.claim_deliveries('w1', 10);
-- The doubled waits of "publish": 10 s, then 20 s, ..., at most 1 hour
-- (the clock moved by setting next_attempt_at).
\c - postgres
UPDATE taskforce.webhook_deliveries SET next_attempt_at = now() WHERE delivery_id = 1004;
\c - ev_worker
SELECT delivery_id, attempts FROM taskforce.claim_deliveries('w1', 10);
SELECT taskforce.complete_delivery(1004, 'w1', false, 502);
\c - postgres
SELECT delivery_id, state, attempts, last_status, last_error,
       next_attempt_at - clock_timestamp() BETWEEN interval '19 seconds' AND interval '20 seconds' AS backoff_20s
  FROM taskforce.webhook_deliveries WHERE delivery_id = 1004;
UPDATE taskforce.webhook_deliveries SET attempts = 12, next_attempt_at = now() WHERE delivery_id = 1004;
\c - ev_worker
SELECT delivery_id, attempts FROM taskforce.claim_deliveries('w1', 10);
SELECT taskforce.complete_delivery(1004, 'w1', false, 502);
\c - postgres
SELECT delivery_id, state, attempts,
       next_attempt_at - clock_timestamp() BETWEEN interval '59 minutes' AND interval '60 minutes' AS backoff_capped
  FROM taskforce.webhook_deliveries WHERE delivery_id = 1004;
-- The last attempt of "publish" (max_attempts 20) fails for good.
UPDATE taskforce.webhook_deliveries SET attempts = 19, next_attempt_at = now() WHERE delivery_id = 1004;
\c - ev_worker
SELECT delivery_id, attempts FROM taskforce.claim_deliveries('w1', 10);
SELECT taskforce.complete_delivery(1004, 'w1', false, 502, 'bad gateway');
SELECT count(*) FROM taskforce.claim_deliveries('w1', 10);
\c - postgres
SELECT delivery_id, endpoint_id, state, attempts, claimed_by, last_status, last_error, delivered_at IS NOT NULL AS delivered
  FROM taskforce.webhook_deliveries WHERE tenant_id LIKE 'wh-%' ORDER BY delivery_id;
-- The history of a delivery in the audit trail: its state, attempts and
-- outcome, who claimed it; no body and no lease bookkeeping.
SELECT action, old_values, new_values - 'created_at' AS new_values FROM taskforce.audit_log
 WHERE object = 'taskforce.webhook_deliveries' AND row_key::jsonb->>'delivery_id' = '1003'
 ORDER BY txid, entry_seq;

-- 7. An expired lease: w1 vanishes; after the lease w2 claims the
-- deliveries and w1 can no longer complete them (55000).  A lease that
-- expires on the last attempt ("everything": 2) fails the delivery.
SELECT taskforce._emit_event('wh-acme', 'request_created', '{"request_id": 8}');
\c - ev_worker
SELECT delivery_id, endpoint_id, attempts FROM taskforce.claim_deliveries('w1', 10, '1 second');
SELECT pg_sleep(1.2);
SELECT delivery_id, endpoint_id, attempts FROM taskforce.claim_deliveries('w2', 10, '1 second');
SELECT taskforce.complete_delivery(1006, 'w1', true, 200);
\echo :LAST_ERROR_SQLSTATE
SELECT pg_sleep(1.2);
SELECT delivery_id, endpoint_id, attempts FROM taskforce.claim_deliveries('w3', 10);
SELECT taskforce.complete_delivery(1006, 'w3', true, 200);
\c - postgres
SELECT delivery_id, state, attempts, claimed_by, last_error
  FROM taskforce.webhook_deliveries WHERE delivery_id IN (1006, 1007) ORDER BY delivery_id;
-- An administrator queues a failed delivery again, with fresh attempts
-- (not one that has not failed: 55000).
\c - ev_worker
SELECT taskforce.retry_delivery(1007);
SELECT taskforce.retry_delivery(1007);
\echo :LAST_ERROR_SQLSTATE
SELECT delivery_id, attempts FROM taskforce.claim_deliveries('w1', 10);
SELECT taskforce.complete_delivery(1007, 'w1', true, 200);

-- 8. A disabled endpoint gets no new events and its pending deliveries
-- wait; enabled again, they go out.  Rotating a secret re-signs what is
-- not yet delivered.
\c - postgres
SELECT taskforce._emit_event('wh-acme', 'request_approved', '{"request_id": 9}');
\c - ev_admin
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SELECT taskforce.disable_webhook_endpoint('approvals');
COMMIT;
\c - postgres
SELECT taskforce._emit_event('wh-acme', 'request_created', '{"request_id": 10}');
\c - ev_worker
SELECT delivery_id, endpoint_id, event FROM taskforce.claim_deliveries('w1', 10);
SELECT taskforce.complete_delivery(1009, 'w1', false, 500);
\c - ev_admin
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SELECT taskforce.enable_webhook_endpoint('approvals');
SELECT taskforce.rotate_webhook_secret('everything', public.ev_secret(22));
SELECT endpoint_id, enabled, secret_rotated_at IS NOT NULL AS rotated
  FROM taskforce.webhook_endpoints WHERE endpoint_id IN ('approvals', 'everything') ORDER BY 1;
COMMIT;
\c - postgres
SELECT d.delivery_id, d.endpoint_id, d.state,
       d.signature = public.ev_sign(d.body, public.ev_secret(22)) AS new_secret,
       d.signature = public.ev_sign(d.body, public.ev_secret(2)) AS old_secret
  FROM taskforce.webhook_deliveries AS d WHERE d.tenant_id = 'wh-acme' AND d.endpoint_id = 'everything'
 ORDER BY d.delivery_id;
\c - ev_worker
SELECT delivery_id, endpoint_id, event FROM taskforce.claim_deliveries('w1', 10);

-- 9. taskforce.notify_events: off by default, and only a superuser sets it
-- (test/integration/webhooks.sh counts the notifications).
SHOW taskforce.notify_events;
SET taskforce.notify_events = on;
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SET taskforce.notify_events = on;
SHOW taskforce.notify_events;
RESET taskforce.notify_events;

-- 10. Purging the outbox: delivered and failed rows older than the
-- interval, by an administrator (the application role may not: 42501).
\c - ev_admin
BEGIN;
SELECT taskforce.act_as('wh-acme', 'wendy');
SET LOCAL ROLE ev_app;
SELECT taskforce.purge_deliveries('0');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
\c - ev_worker
SELECT taskforce.purge_deliveries();
SELECT taskforce.purge_deliveries('-1 day');
\echo :LAST_ERROR_SQLSTATE
\c - postgres
UPDATE taskforce.webhook_deliveries SET created_at = created_at - interval '31 days'
 WHERE tenant_id LIKE 'wh-%' AND delivery_id <= 1005;
\c - ev_worker
SELECT taskforce.purge_deliveries();
\c - postgres
SELECT delivery_id, state FROM taskforce.webhook_deliveries WHERE tenant_id LIKE 'wh-%' ORDER BY delivery_id;

-- The other suites' deliveries, as they were.
UPDATE taskforce.webhook_deliveries AS d
   SET state = h.state, claimed_by = h.claimed_by, lease_until = h.lease_until,
       next_attempt_at = h.next_attempt_at, attempts = h.attempts
  FROM public.ev_held AS h
 WHERE d.tenant_id = h.tenant_id AND d.delivery_id = h.delivery_id;
DROP TABLE public.ev_held;
