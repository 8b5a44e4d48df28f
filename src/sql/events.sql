-- src/sql/events.sql: lifecycle events (issue 11; docs/lifecycle_events.md).
-- _emit_event() puts an event in the outbox: one row of webhook_deliveries
-- per enabled endpoint of the tenant subscribed to it, its body the exact
-- JSON text a receiver gets and signed with the endpoint's secret
-- (HMAC-SHA256, src/lifecycle/webhook_sign.c), in the emitting transaction,
-- so an event exists exactly when the change it reports commits.  Delivery
-- workers (tools/webhook_worker.py) claim due rows with FOR UPDATE SKIP
-- LOCKED under a lease and report each attempt; failed attempts are retried
-- with exponential backoff up to the endpoint's max_attempts.  With
-- taskforce.notify_events on, an emitting transaction also sends one NOTIFY
-- on channel taskforce_events carrying only its transaction id.

CREATE TABLE taskforce.webhook_endpoints (
    tenant_id         text        NOT NULL,
    endpoint_id       text        NOT NULL,
    url               text        NOT NULL,
    secret            bytea       NOT NULL,
    events            text[]      NOT NULL,
    enabled           boolean     NOT NULL DEFAULT true,
    max_attempts      integer     NOT NULL DEFAULT 10,
    retry_backoff     interval    NOT NULL DEFAULT '30 seconds',
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    secret_rotated_at timestamptz,
    CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (tenant_id, endpoint_id),
    CONSTRAINT webhook_endpoints_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT webhook_endpoints_endpoint_id_format
        CHECK (endpoint_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    CONSTRAINT webhook_endpoints_url_format
        CHECK (url ~ '^https?://[^[:space:][:cntrl:]/?#]+([/?#][^[:space:][:cntrl:]]*)?$'),
    CONSTRAINT webhook_endpoints_secret_length CHECK (pg_catalog.octet_length(secret) >= 16),
    CONSTRAINT webhook_endpoints_events_known CHECK (
        pg_catalog.cardinality(events) > 0 AND pg_catalog.array_ndims(events) = 1
        AND events <@ ARRAY['request_created', 'request_approved', 'request_rejected', 'request_expired',
                            'agent_published', 'release_released', 'release_rolled_back']),
    CONSTRAINT webhook_endpoints_max_attempts_range CHECK (max_attempts BETWEEN 1 AND 100),
    CONSTRAINT webhook_endpoints_retry_backoff_range
        CHECK (retry_backoff >= '0' AND retry_backoff <= '1 day')
);
REVOKE ALL ON taskforce.webhook_endpoints FROM PUBLIC;
COMMENT ON TABLE taskforce.webhook_endpoints IS
    'webhook receivers of each tenant: where to POST which events, signed with the endpoint''s secret (a column no application, BI or auditor role can read)';
COMMENT ON COLUMN taskforce.webhook_endpoints.secret IS
    'HMAC-SHA256 key of the signatures (16 bytes or more); readable only by the extension owner';
COMMENT ON COLUMN taskforce.webhook_endpoints.events IS
    'the events delivered to this endpoint (see taskforce._event_names())';
COMMENT ON COLUMN taskforce.webhook_endpoints.max_attempts IS
    'attempts of a delivery before it is marked failed (1 to 100)';
COMMENT ON COLUMN taskforce.webhook_endpoints.retry_backoff IS
    'wait after the first failed attempt; doubled after each further one, at most 1 hour';
COMMENT ON COLUMN taskforce.webhook_endpoints.secret_rotated_at IS
    'when rotate_webhook_secret last replaced the secret (null: never)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.webhook_endpoints', '');

CREATE TABLE taskforce.webhook_deliveries (
    tenant_id       text        NOT NULL,
    delivery_id     bigint      GENERATED ALWAYS AS IDENTITY,
    endpoint_id     text        NOT NULL,
    event           text        NOT NULL,
    body            text        NOT NULL,
    signature       text        NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT pg_catalog.now(),
    state           text        NOT NULL DEFAULT 'pending',
    attempts        integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    claimed_by      text,
    lease_until     timestamptz,
    last_status     integer,
    last_error      text,
    delivered_at    timestamptz,
    CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (tenant_id, delivery_id),
    CONSTRAINT webhook_deliveries_endpoint_fkey FOREIGN KEY (tenant_id, endpoint_id)
        REFERENCES taskforce.webhook_endpoints (tenant_id, endpoint_id),
    CONSTRAINT webhook_deliveries_state_known
        CHECK (state IN ('pending', 'delivering', 'delivered', 'failed')),
    CONSTRAINT webhook_deliveries_lease_while_delivering
        CHECK ((state = 'delivering') = (lease_until IS NOT NULL AND claimed_by IS NOT NULL)),
    CONSTRAINT webhook_deliveries_delivered_at CHECK ((state = 'delivered') = (delivered_at IS NOT NULL)),
    CONSTRAINT webhook_deliveries_attempts_nonnegative CHECK (attempts >= 0)
);
-- Claiming: the due rows, oldest first (while delivering, next_attempt_at
-- is the lease's end: the next attempt if this one is lost).
CREATE INDEX webhook_deliveries_due ON taskforce.webhook_deliveries (next_attempt_at)
    WHERE state IN ('pending', 'delivering');
-- complete_delivery names a delivery by its id alone (a worker serves
-- every tenant); the id is unique, the key keeps the tenant.
CREATE INDEX webhook_deliveries_delivery_id ON taskforce.webhook_deliveries (delivery_id);
CREATE INDEX webhook_deliveries_endpoint ON taskforce.webhook_deliveries (tenant_id, endpoint_id);
REVOKE ALL ON taskforce.webhook_deliveries FROM PUBLIC;
COMMENT ON TABLE taskforce.webhook_deliveries IS
    'the webhook outbox: one row per event and subscribed endpoint, with the exact body sent, its signature and the delivery state';
COMMENT ON COLUMN taskforce.webhook_deliveries.body IS
    'the exact JSON text POSTed: {"event": ..., "timestamp": ..., "payload": ...}';
COMMENT ON COLUMN taskforce.webhook_deliveries.signature IS
    '''sha256='' || hex HMAC-SHA256(endpoint secret, body): the X-Taskforce-Signature header';
COMMENT ON COLUMN taskforce.webhook_deliveries.state IS
    'pending (due at next_attempt_at), delivering (claimed until lease_until), delivered or failed';
COMMENT ON COLUMN taskforce.webhook_deliveries.attempts IS 'attempts started (claims)';
COMMENT ON COLUMN taskforce.webhook_deliveries.claimed_by IS
    'the worker holding the lease (delivering) or the one that delivered it';
SELECT pg_catalog.pg_extension_config_dump('taskforce.webhook_deliveries', '');
SELECT pg_catalog.pg_extension_config_dump('taskforce.webhook_deliveries_delivery_id_seq', '');

CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.webhook_endpoints
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
-- Deliveries already queued may still be worked off; no new ones.
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT ON taskforce.webhook_deliveries
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.webhook_endpoints IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.webhook_deliveries IS
    'refuses new deliveries of a deleted tenant';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.webhook_endpoints'::regclass), ('taskforce.webhook_deliveries')) AS v(t);
SELECT taskforce.enable_audit('taskforce.webhook_endpoints', exclude_columns => '{secret}');
-- The body is in the event's own entry; the lease columns change on every
-- claim and say nothing the state and attempts do not.
SELECT taskforce.enable_audit('taskforce.webhook_deliveries',
                              exclude_columns => '{body,signature,next_attempt_at,lease_until}',
                              changed_columns_only => true);

-- The events taskforce emits.
CREATE FUNCTION taskforce._event_names() RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT ARRAY['request_created', 'request_approved', 'request_rejected', 'request_expired',
                 'agent_published', 'release_released', 'release_rolled_back']
$$;
COMMENT ON FUNCTION taskforce._event_names() IS
    'the events taskforce emits, which webhook endpoints may subscribe to';

CREATE FUNCTION taskforce._webhook_signature(secret bytea, body text) RETURNS text
    LANGUAGE C STRICT IMMUTABLE PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_webhook_signature';
REVOKE ALL ON FUNCTION taskforce._webhook_signature(bytea, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._webhook_signature(bytea, text) IS
    'internal: ''sha256='' || hex HMAC-SHA256(secret, body), the signature of a webhook body';

CREATE FUNCTION taskforce._events_notify() RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_events_notify';
REVOKE ALL ON FUNCTION taskforce._events_notify() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._events_notify() IS
    'internal: with taskforce.notify_events on, queues NOTIFY taskforce_events with the transaction id (one per transaction); returns whether it did';

-- Emits an event of a tenant: one delivery per enabled endpoint of the
-- tenant subscribed to it, all with the same body (signed per endpoint),
-- one audit entry (event_type 'event', object the event, action 'EMIT'),
-- and the wake-up when taskforce.notify_events is on.  Returns the number
-- of deliveries queued.  Called by taskforce's own functions only.
CREATE FUNCTION taskforce._emit_event(tenant text, event text, payload jsonb)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    emitted_at text := pg_catalog.to_char(pg_catalog.now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    body text;
    n integer;
BEGIN
    IF tenant IS NULL OR event IS NULL OR payload IS NULL THEN
        RAISE EXCEPTION 'tenant, event and payload must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT event = ANY (taskforce._event_names()) THEN
        RAISE EXCEPTION 'unknown event "%"', event
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Use one of: %s.', pg_catalog.array_to_string(taskforce._event_names(), ', '));
    END IF;
    IF pg_catalog.jsonb_typeof(payload) <> 'object' THEN
        RAISE EXCEPTION 'an event payload must be a JSON object, not %', pg_catalog.jsonb_typeof(payload)
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.tenants AS t WHERE t.tenant_id = _emit_event.tenant) THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    -- Keys in this order, as seed 001 §9.2 shows them (jsonb would sort
    -- them); the payload in jsonb's text form.
    body := '{"event": ' || pg_catalog.to_json(event)::text
         || ', "timestamp": ' || pg_catalog.to_json(emitted_at)::text
         || ', "payload": ' || payload::text || '}';
    INSERT INTO taskforce.webhook_deliveries (tenant_id, endpoint_id, event, body, signature)
    SELECT e.tenant_id, e.endpoint_id, _emit_event.event, body, taskforce._webhook_signature(e.secret, body)
      FROM taskforce.webhook_endpoints AS e
     WHERE e.tenant_id = _emit_event.tenant AND e.enabled AND _emit_event.event = ANY (e.events)
     ORDER BY e.endpoint_id;
    GET DIAGNOSTICS n = ROW_COUNT;
    PERFORM taskforce._audit_write_event('event', event, NULL, 'EMIT', tenant,
        pg_catalog.jsonb_build_object('event', event, 'timestamp', emitted_at,
                                      'payload', payload, 'deliveries', n));
    PERFORM taskforce._events_notify();
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION taskforce._emit_event(text, text, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._emit_event(text, text, jsonb) IS
    'internal: emits an event of a tenant: signed deliveries to its subscribed endpoints, an audit entry, the optional NOTIFY; returns the deliveries queued';

-- Checks the fields of an endpoint (nulls are not checked: the callers
-- refuse or keep them).
CREATE FUNCTION taskforce._check_webhook_fields(url text, events text[], secret bytea,
                                                max_attempts integer, retry_backoff interval)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    e text;
BEGIN
    IF url !~ '^https?://[^[:space:][:cntrl:]/?#]+([/?#][^[:space:][:cntrl:]]*)?$' THEN
        RAISE EXCEPTION 'invalid webhook url "%"', url
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An http:// or https:// URL with a host and no spaces.';
    END IF;
    IF events IS NOT NULL THEN
        IF pg_catalog.cardinality(events) = 0 OR pg_catalog.array_ndims(events) <> 1 THEN
            RAISE EXCEPTION 'events must name at least one event'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = format('Use some of: %s.', pg_catalog.array_to_string(taskforce._event_names(), ', '));
        END IF;
        FOREACH e IN ARRAY events LOOP
            IF e IS NULL THEN
                RAISE EXCEPTION 'events must not contain null'
                    USING ERRCODE = 'null_value_not_allowed';
            END IF;
            PERFORM taskforce._check_choice('event', e, taskforce._event_names());
        END LOOP;
    END IF;
    IF pg_catalog.octet_length(secret) < 16 THEN
        RAISE EXCEPTION 'a webhook secret must have at least 16 bytes, not %', pg_catalog.octet_length(secret)
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'For example pgcrypto''s gen_random_bytes(32), or the UTF-8 bytes of a long random string.';
    END IF;
    IF max_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_attempts must be between 1 and 100, not %', max_attempts
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF retry_backoff < '0' OR retry_backoff > '1 day' THEN
        RAISE EXCEPTION 'retry_backoff must be between 0 and 1 day, not %', retry_backoff
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_webhook_fields(text, text[], bytea, integer, interval) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_webhook_fields(text, text[], bytea, integer, interval) IS
    'internal: invalid_parameter_value or null_value_not_allowed for a bad webhook endpoint field';

-- Returns the endpoint row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._lock_webhook_endpoint(tenant_id text, endpoint_id text)
    RETURNS taskforce.webhook_endpoints
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    e taskforce.webhook_endpoints;
BEGIN
    IF endpoint_id IS NULL THEN
        RAISE EXCEPTION 'endpoint_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO e FROM taskforce.webhook_endpoints AS x
     WHERE x.tenant_id = _lock_webhook_endpoint.tenant_id AND x.endpoint_id = _lock_webhook_endpoint.endpoint_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook endpoint "%" does not exist in tenant "%"', endpoint_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN e;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_webhook_endpoint(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_webhook_endpoint(text, text) IS
    'internal: locks and returns a webhook endpoint, or raises undefined_object';

CREATE FUNCTION taskforce.create_webhook_endpoint(
    endpoint_id text,
    url text,
    events text[],
    secret bytea,
    max_attempts integer DEFAULT 10,
    retry_backoff interval DEFAULT '30 seconds',
    tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('workflow:manage', tenant_id);
BEGIN
    IF endpoint_id IS NULL OR url IS NULL OR events IS NULL OR secret IS NULL
       OR max_attempts IS NULL OR retry_backoff IS NULL THEN
        RAISE EXCEPTION 'endpoint_id, url, events, secret, max_attempts and retry_backoff must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF endpoint_id !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid endpoint_id "%"', endpoint_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An id has 1 to 128 letters, digits and _ . : -, starting with a letter or digit.';
    END IF;
    PERFORM taskforce._check_webhook_fields(url, events, secret, max_attempts, retry_backoff);
    BEGIN
        INSERT INTO taskforce.webhook_endpoints AS x
            (tenant_id, endpoint_id, url, secret, events, max_attempts, retry_backoff)
        VALUES (tenant, create_webhook_endpoint.endpoint_id, create_webhook_endpoint.url,
                create_webhook_endpoint.secret,
                ARRAY(SELECT DISTINCT e FROM unnest(create_webhook_endpoint.events) AS e ORDER BY e),
                create_webhook_endpoint.max_attempts, create_webhook_endpoint.retry_backoff);
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'webhook endpoint "%" already exists in tenant "%"', endpoint_id, tenant
                USING ERRCODE = 'duplicate_object';
    END;
END
$$;
COMMENT ON FUNCTION taskforce.create_webhook_endpoint(text, text, text[], bytea, integer, interval, text) IS
    'registers a webhook endpoint of the current tenant for the given events, signed with the given secret (at least 16 bytes); needs workflow:manage';

-- Changes an endpoint's URL, events or retry policy (nulls keep a field).
-- Deliveries already queued keep their body and go to the new URL.
CREATE FUNCTION taskforce.update_webhook_endpoint(
    endpoint_id text,
    url text DEFAULT NULL,
    events text[] DEFAULT NULL,
    max_attempts integer DEFAULT NULL,
    retry_backoff interval DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('workflow:manage', tenant_id);
    e taskforce.webhook_endpoints := taskforce._lock_webhook_endpoint(tenant, endpoint_id);
BEGIN
    PERFORM taskforce._check_webhook_fields(coalesce(url, e.url), events, e.secret,
                                            coalesce(max_attempts, e.max_attempts),
                                            coalesce(retry_backoff, e.retry_backoff));
    UPDATE taskforce.webhook_endpoints AS x
       SET url = coalesce(update_webhook_endpoint.url, x.url),
           events = coalesce(ARRAY(SELECT DISTINCT v FROM unnest(update_webhook_endpoint.events) AS v ORDER BY v),
                             x.events),
           max_attempts = coalesce(update_webhook_endpoint.max_attempts, x.max_attempts),
           retry_backoff = coalesce(update_webhook_endpoint.retry_backoff, x.retry_backoff)
     WHERE x.tenant_id = tenant AND x.endpoint_id = update_webhook_endpoint.endpoint_id;
END
$$;
COMMENT ON FUNCTION taskforce.update_webhook_endpoint(text, text, text[], integer, interval, text) IS
    'changes a webhook endpoint''s url, events, max_attempts or retry_backoff (nulls keep a field); needs workflow:manage';

-- Turns an endpoint on or off; its pending deliveries wait while it is off.
CREATE FUNCTION taskforce._set_webhook_enabled(endpoint_id text, enabled boolean, tenant_id text)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('workflow:manage', tenant_id);
BEGIN
    PERFORM taskforce._lock_webhook_endpoint(tenant, endpoint_id);
    UPDATE taskforce.webhook_endpoints AS x SET enabled = _set_webhook_enabled.enabled
     WHERE x.tenant_id = tenant AND x.endpoint_id = _set_webhook_enabled.endpoint_id
       AND x.enabled <> _set_webhook_enabled.enabled;
END
$$;
REVOKE ALL ON FUNCTION taskforce._set_webhook_enabled(text, boolean, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._set_webhook_enabled(text, boolean, text) IS
    'internal: enables or disables a webhook endpoint after checking workflow:manage';

CREATE FUNCTION taskforce.disable_webhook_endpoint(endpoint_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT taskforce._set_webhook_enabled(endpoint_id, false, tenant_id) $$;
COMMENT ON FUNCTION taskforce.disable_webhook_endpoint(text, text) IS
    'stops emitting events to a webhook endpoint and holds its pending deliveries; needs workflow:manage';

CREATE FUNCTION taskforce.enable_webhook_endpoint(endpoint_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$ SELECT taskforce._set_webhook_enabled(endpoint_id, true, tenant_id) $$;
COMMENT ON FUNCTION taskforce.enable_webhook_endpoint(text, text) IS
    'resumes a disabled webhook endpoint: new events and its held deliveries go out again; needs workflow:manage';

-- Replaces an endpoint's secret and re-signs its deliveries not yet
-- delivered, so that the receiver, switched to the new secret, verifies
-- every later attempt.  Returns how many it re-signed.
CREATE FUNCTION taskforce.rotate_webhook_secret(endpoint_id text, secret bytea, tenant_id text DEFAULT NULL)
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('workflow:manage', tenant_id);
    n integer;
BEGIN
    IF secret IS NULL THEN
        RAISE EXCEPTION 'secret must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._lock_webhook_endpoint(tenant, endpoint_id);
    PERFORM taskforce._check_webhook_fields('http://x', NULL, secret, 1, '0');
    UPDATE taskforce.webhook_endpoints AS x
       SET secret = rotate_webhook_secret.secret, secret_rotated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.endpoint_id = rotate_webhook_secret.endpoint_id;
    UPDATE taskforce.webhook_deliveries AS d
       SET signature = taskforce._webhook_signature(rotate_webhook_secret.secret, d.body)
     WHERE d.tenant_id = tenant AND d.endpoint_id = rotate_webhook_secret.endpoint_id
       AND d.state IN ('pending', 'delivering');
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
COMMENT ON FUNCTION taskforce.rotate_webhook_secret(text, bytea, text) IS
    'replaces a webhook endpoint''s secret and re-signs its deliveries not yet delivered; returns how many; needs workflow:manage';

-- Claims up to max_rows due deliveries for worker: pending ones whose
-- next attempt is due and delivering ones whose lease expired (their
-- attempt is taken as lost), oldest first, skipping rows another worker
-- is claiming, of enabled endpoints.  Each claimed row is delivering,
-- leased to worker until now + lease, its attempts counted; a row whose
-- lease expired on its last attempt is marked failed instead.
CREATE FUNCTION taskforce.claim_deliveries(worker text, max_rows integer DEFAULT 10,
                                           lease interval DEFAULT '1 minute')
    RETURNS TABLE (delivery_id bigint, tenant_id text, endpoint_id text, url text, event text,
                   body text, signature text, attempts integer, lease_until timestamptz)
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
#variable_conflict use_column
DECLARE
    now_ts timestamptz := pg_catalog.clock_timestamp();
BEGIN
    IF claim_deliveries.worker IS NULL OR claim_deliveries.max_rows IS NULL OR claim_deliveries.lease IS NULL THEN
        RAISE EXCEPTION 'worker, max_rows and lease must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.btrim(claim_deliveries.worker) = '' OR pg_catalog.length(claim_deliveries.worker) > 200 THEN
        RAISE EXCEPTION 'a worker name must have 1 to 200 characters'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Give each worker process its own name, for example host:pid.';
    END IF;
    IF claim_deliveries.max_rows NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'max_rows must be between 1 and 1000, not %', claim_deliveries.max_rows
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF claim_deliveries.lease < '1 second' OR claim_deliveries.lease > '1 day' THEN
        RAISE EXCEPTION 'lease must be between 1 second and 1 day, not %', claim_deliveries.lease
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN QUERY
    WITH due AS (
        SELECT d.tenant_id, d.delivery_id,
               (d.state = 'delivering' AND d.attempts >= e.max_attempts) AS exhausted
          FROM taskforce.webhook_deliveries AS d
          JOIN taskforce.webhook_endpoints AS e
            ON e.tenant_id = d.tenant_id AND e.endpoint_id = d.endpoint_id
         WHERE d.state IN ('pending', 'delivering') AND d.next_attempt_at <= now_ts AND e.enabled
         ORDER BY d.next_attempt_at, d.delivery_id
         LIMIT claim_deliveries.max_rows
           FOR UPDATE OF d SKIP LOCKED
    ), claimed AS (
        UPDATE taskforce.webhook_deliveries AS d
           SET state = CASE WHEN due.exhausted THEN 'failed' ELSE 'delivering' END,
               attempts = d.attempts + CASE WHEN due.exhausted THEN 0 ELSE 1 END,
               claimed_by = CASE WHEN due.exhausted THEN d.claimed_by ELSE claim_deliveries.worker END,
               lease_until = CASE WHEN due.exhausted THEN NULL ELSE now_ts + claim_deliveries.lease END,
               next_attempt_at = CASE WHEN due.exhausted THEN d.next_attempt_at
                                      ELSE now_ts + claim_deliveries.lease END,
               last_error = CASE WHEN due.exhausted
                                 THEN format('lease of worker "%s" expired on attempt %s', d.claimed_by, d.attempts)
                                 ELSE d.last_error END
          FROM due
         WHERE d.tenant_id = due.tenant_id AND d.delivery_id = due.delivery_id
        RETURNING d.*, due.exhausted
    )
    SELECT c.delivery_id, c.tenant_id, c.endpoint_id, e.url, c.event, c.body, c.signature,
           c.attempts, c.lease_until
      FROM claimed AS c
      JOIN taskforce.webhook_endpoints AS e ON e.tenant_id = c.tenant_id AND e.endpoint_id = c.endpoint_id
     WHERE NOT c.exhausted
     ORDER BY c.next_attempt_at, c.delivery_id;
END
$$;
REVOKE ALL ON FUNCTION taskforce.claim_deliveries(text, integer, interval) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.claim_deliveries(text, integer, interval) IS
    'claims up to max_rows due webhook deliveries of every tenant for a worker (FOR UPDATE SKIP LOCKED) under a lease; for delivery workers (admin role)';

-- Records the outcome of a claimed attempt.  Only the worker holding the
-- claim may: ok -> delivered; else pending again after the endpoint's
-- backoff (retry_backoff * 2^(attempts - 1), at most 1 hour), or failed
-- once attempts reached the endpoint's max_attempts.  Returns the state.
CREATE FUNCTION taskforce.complete_delivery(delivery_id bigint, worker text, ok boolean,
                                            http_status integer DEFAULT NULL, error text DEFAULT NULL)
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    d taskforce.webhook_deliveries;
    e taskforce.webhook_endpoints;
    now_ts timestamptz := pg_catalog.clock_timestamp();
    new_state text;
BEGIN
    IF delivery_id IS NULL OR worker IS NULL OR ok IS NULL THEN
        RAISE EXCEPTION 'delivery_id, worker and ok must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF http_status NOT BETWEEN 100 AND 599 THEN
        RAISE EXCEPTION 'invalid http_status %', http_status
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'An HTTP status code is between 100 and 599; pass null when there was no response.';
    END IF;
    SELECT * INTO d FROM taskforce.webhook_deliveries AS x
     WHERE x.delivery_id = complete_delivery.delivery_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook delivery % does not exist', delivery_id
            USING ERRCODE = 'undefined_object';
    END IF;
    IF d.state <> 'delivering' OR d.claimed_by <> worker THEN
        RAISE EXCEPTION 'webhook delivery % is not claimed by worker "%"', delivery_id, worker
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Its state is %s%s.', d.state,
                                  CASE WHEN d.state = 'delivering' THEN format(', claimed by "%s"', d.claimed_by) ELSE '' END),
                  HINT = 'A worker completes only the deliveries it claimed; its lease may have expired and another worker claimed the delivery.';
    END IF;
    SELECT * INTO e FROM taskforce.webhook_endpoints AS x
     WHERE x.tenant_id = d.tenant_id AND x.endpoint_id = d.endpoint_id;
    new_state := CASE WHEN ok THEN 'delivered'
                      WHEN d.attempts >= e.max_attempts THEN 'failed'
                      ELSE 'pending' END;
    UPDATE taskforce.webhook_deliveries AS x
       SET state = new_state,
           lease_until = NULL,
           claimed_by = CASE WHEN new_state = 'pending' THEN NULL ELSE x.claimed_by END,
           next_attempt_at = CASE WHEN new_state = 'pending'
                                  THEN now_ts + least(e.retry_backoff * pg_catalog.power(2, least(x.attempts - 1, 20)),
                                                      '1 hour'::interval)
                                  ELSE x.next_attempt_at END,
           last_status = http_status,
           last_error = CASE WHEN ok THEN NULL
                             ELSE pg_catalog.left(coalesce(error, 'HTTP status ' || http_status, 'failed'), 1000) END,
           delivered_at = CASE WHEN ok THEN now_ts END
     WHERE x.tenant_id = d.tenant_id AND x.delivery_id = d.delivery_id;
    RETURN new_state;
END
$$;
REVOKE ALL ON FUNCTION taskforce.complete_delivery(bigint, text, boolean, integer, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.complete_delivery(bigint, text, boolean, integer, text) IS
    'records a claimed webhook delivery attempt (the claiming worker only): delivered, pending again with exponential backoff, or failed after the endpoint''s max_attempts; returns the new state';

-- Queues a failed delivery again with a fresh count of attempts (after
-- the receiver is fixed).
CREATE FUNCTION taskforce.retry_delivery(delivery_id bigint)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    d taskforce.webhook_deliveries;
BEGIN
    IF delivery_id IS NULL THEN
        RAISE EXCEPTION 'delivery_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO d FROM taskforce.webhook_deliveries AS x
     WHERE x.delivery_id = retry_delivery.delivery_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'webhook delivery % does not exist', delivery_id
            USING ERRCODE = 'undefined_object';
    END IF;
    IF d.state <> 'failed' THEN
        RAISE EXCEPTION 'webhook delivery % is %, not failed', delivery_id, d.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE taskforce.webhook_deliveries AS x
       SET state = 'pending', attempts = 0, claimed_by = NULL, next_attempt_at = pg_catalog.clock_timestamp()
     WHERE x.tenant_id = d.tenant_id AND x.delivery_id = d.delivery_id;
END
$$;
REVOKE ALL ON FUNCTION taskforce.retry_delivery(bigint) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.retry_delivery(bigint) IS
    'queues a failed webhook delivery again with its attempts reset; for administrators (admin role)';

-- Deletes delivered and failed deliveries created before now() -
-- older_than (each deletion is an audit entry; the events' own entries
-- stay).  Returns how many.  Schedulable with pg_cron.
CREATE FUNCTION taskforce.purge_deliveries(older_than interval DEFAULT '30 days')
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n bigint;
BEGIN
    IF older_than IS NULL OR older_than < '0' THEN
        RAISE EXCEPTION 'older_than must not be negative or null, not %', coalesce(older_than::text, 'null')
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    DELETE FROM taskforce.webhook_deliveries AS d
     WHERE d.state IN ('delivered', 'failed') AND d.created_at < pg_catalog.now() - older_than;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION taskforce.purge_deliveries(interval) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.purge_deliveries(interval) IS
    'deletes delivered and failed webhook deliveries older than the interval; returns how many; for administrators (admin role)';
