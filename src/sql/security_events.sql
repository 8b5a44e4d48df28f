-- src/sql/security_events.sql: the security event log, and the queue
-- (src/auth/events.c) of events that cannot be written in the caller's
-- transaction: failed authentications, and bearer-credential successes.

CREATE TABLE taskforce.security_events (
    event_id    bigint      GENERATED ALWAYS AS IDENTITY,
    occurred_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    tenant_id   text,
    user_id     text,
    actor       text,
    method      text        NOT NULL,
    event       text        NOT NULL,
    outcome     text        NOT NULL,
    reason      text,
    client_addr inet,
    db_role     text        NOT NULL DEFAULT session_user,
    details     jsonb       NOT NULL DEFAULT '{}',
    CONSTRAINT security_events_pkey PRIMARY KEY (event_id),
    CONSTRAINT security_events_event_known CHECK (event IN (
        'authentication', 'lockout',
        'api_key_created', 'api_key_revoked', 'api_key_rotated',
        'role_granted', 'role_revoked', 'role_created', 'role_updated', 'role_deleted',
        'user_created', 'user_updated', 'user_deactivated', 'user_reactivated',
        'user_deleted', 'user_unlocked', 'password_changed', 'password_policy_changed',
        'events_lost', 'resource_access')),
    CONSTRAINT security_events_outcome_known CHECK (outcome IN ('success', 'failure')),
    CONSTRAINT security_events_details_object CHECK (jsonb_typeof(details) = 'object')
);
CREATE INDEX security_events_tenant_time
    ON taskforce.security_events (tenant_id, occurred_at);
REVOKE ALL ON taskforce.security_events FROM PUBLIC;
COMMENT ON TABLE taskforce.security_events IS
    'security events: authentications, lockouts and changes to users, roles and api keys';
COMMENT ON COLUMN taskforce.security_events.actor IS
    'who acted: the user of the context, or else the database role';
COMMENT ON COLUMN taskforce.security_events.method IS
    'how the actor authenticated: jwt, api_key, password, act_as or sql';
COMMENT ON COLUMN taskforce.security_events.db_role IS
    'the session role of the connection the event came from';
SELECT pg_catalog.pg_extension_config_dump('taskforce.security_events', '');
-- The identity sequence too, or a restored database would reuse event ids.
SELECT pg_catalog.pg_extension_config_dump('taskforce.security_events_event_id_seq', '');

CREATE FUNCTION taskforce._record_security_event(
    tenant_id text,
    user_id text,
    method text,
    event text,
    outcome text,
    reason text DEFAULT NULL,
    client_addr inet DEFAULT NULL,
    details jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    -- Whoever writes next carries the queued events along.
    PERFORM taskforce.flush_security_events(interval '0');
    IF details IS NOT NULL AND jsonb_typeof(details) <> 'object' THEN
        RAISE EXCEPTION 'details must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO taskforce.security_events
        (tenant_id, user_id, actor, method, event, outcome, reason, client_addr, details)
    VALUES (tenant_id, user_id,
            coalesce(taskforce.current_user_id(), session_user::text),
            method, event, outcome, reason,
            coalesce(client_addr, pg_catalog.inet_client_addr()),
            coalesce(details, '{}'));
END
$$;
REVOKE ALL ON FUNCTION taskforce._record_security_event(text, text, text, text, text, text, inet, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._record_security_event(text, text, text, text, text, text, inet, jsonb) IS
    'internal: appends a security event in the caller''s transaction, after the queued ones';

-- Callers may leave client_addr null: the C code then uses the calling
-- backend's inet_client_addr().
CREATE FUNCTION taskforce._reject_authentication(
    method text,
    tenant_id text,
    user_id text,
    reason text,
    client_addr inet DEFAULT NULL,
    details jsonb DEFAULT '{}')
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_reject_authentication';
REVOKE ALL ON FUNCTION taskforce._reject_authentication(text, text, text, text, inet, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._reject_authentication(text, text, text, text, inet, jsonb) IS
    'internal: queues a failed authentication, then raises (for passwords, one generic failure whatever the reason)';

-- Writes one record of the queue: a security event (with the credential
-- use it records: users.last_login_at, api_keys.last_used_at), or the
-- failed-password counters of a user (lazy persistence of lockout).
-- user_credentials and api_keys are created later in the install script,
-- hence named only in the body.
CREATE FUNCTION taskforce._apply_queued_record(record jsonb)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    at timestamptz := coalesce((record->>'occurred_at')::timestamptz, pg_catalog.clock_timestamp());
BEGIN
    IF record->>'record' = 'password_attempts' THEN
        UPDATE taskforce.user_credentials AS c
           SET failed_attempts = (record->>'failed_attempts')::integer,
               locked_until = (record->>'locked_until')::timestamptz
         WHERE c.tenant_id = record->>'tenant_id' AND c.user_id = record->>'user_id'
           AND (c.failed_attempts, c.locked_until) IS DISTINCT FROM
               ((record->>'failed_attempts')::integer, (record->>'locked_until')::timestamptz);
        RETURN;
    END IF;
    IF record->>'record' IS DISTINCT FROM 'event' THEN
        -- Cannot happen (the C code builds every record); raising would
        -- keep the record, and every later flush, failing forever.
        RAISE WARNING 'taskforce: skipped an unknown queued record: %', record;
        RETURN;
    END IF;
    INSERT INTO taskforce.security_events
        (occurred_at, tenant_id, user_id, actor, method, event, outcome, reason, client_addr,
         db_role, details)
    VALUES (at, record->>'tenant_id', record->>'user_id',
            coalesce(record->>'actor', session_user::text),
            coalesce(record->>'method', 'unknown'), record->>'event', record->>'outcome',
            record->>'reason', (record->>'client_addr')::inet,
            coalesce(record->>'db_role', session_user::text),
            CASE WHEN jsonb_typeof(record->'details') = 'object' THEN record->'details'
                 ELSE '{}'::jsonb END);
    IF record->>'event' = 'authentication' AND record->>'outcome' = 'success' THEN
        UPDATE taskforce.users AS u SET last_login_at = at
         WHERE u.tenant_id = record->>'tenant_id' AND u.user_id = record->>'user_id'
           AND (u.last_login_at IS NULL OR u.last_login_at < at);
        IF record->>'method' = 'api_key' AND record->'details' ? 'key_id' THEN
            UPDATE taskforce.api_keys AS k SET last_used_at = at
             WHERE k.tenant_id = record->>'tenant_id'
               AND k.key_id = (record->'details'->>'key_id')::uuid
               AND (k.last_used_at IS NULL OR k.last_used_at < at);
        END IF;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._apply_queued_record(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._apply_queued_record(jsonb) IS
    'internal: writes one record of the security event queue (an event, or a user''s failed-password counters)';

CREATE FUNCTION taskforce.flush_security_events(max_age interval DEFAULT '10 seconds')
    RETURNS bigint
    LANGUAGE C VOLATILE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS 'MODULE_PATHNAME', 'taskforce_flush_security_events';
REVOKE ALL ON FUNCTION taskforce.flush_security_events(interval) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.flush_security_events(interval) IS
    'writes this database''s queued security events (if the oldest has waited max_age) and failed-password counters; returns the rows written';

-- Called by every successful authentication; writes nothing in the
-- caller's transaction.
CREATE FUNCTION taskforce._note_authentication(
    method text,
    credential text,
    tenant_id text,
    user_id text,
    client_addr inet,
    details jsonb)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_note_authentication';
REVOKE ALL ON FUNCTION taskforce._note_authentication(text, text, text, text, inet, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._note_authentication(text, text, text, text, inet, jsonb) IS
    'internal: queues a success event for the first use of a credential in taskforce.auth_success_event_interval';
