-- src/sql/security_events.sql: the security event log, and failed
-- authentications recorded in a transaction of their own.

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
        'user_deleted', 'user_unlocked', 'password_changed', 'password_policy_changed')),
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
    'internal: appends a security event in the caller''s transaction';

-- Runs in the recording worker (src/auth/recorder.c), in a transaction of
-- its own, so it commits even though the failed authentication aborts the
-- caller's.  The worker passes the caller's client address, session role
-- and actor, which this function cannot see.  A failed password attempt
-- also counts towards the user's lockout; attempts while the user is
-- already locked out do not.  user_credentials and password_policy() are
-- created later in the install script, hence named only in the body.
CREATE FUNCTION taskforce._record_failed_authentication(
    method text,
    tenant_id text,
    user_id text,
    reason text,
    client_addr inet,
    details jsonb,
    db_role text DEFAULT NULL,
    actor text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    event_details jsonb := CASE
        WHEN details IS NULL THEN '{}'::jsonb
        WHEN jsonb_typeof(details) = 'object' THEN details
        ELSE jsonb_build_object('details', details) END;
    event_actor text := coalesce(actor, taskforce.current_user_id(), session_user::text);
    event_role text := coalesce(db_role, session_user::text);
    attempts integer;
    max_attempts integer;
    lockout_minutes integer;
    lock_end timestamptz;
BEGIN
    INSERT INTO taskforce.security_events
        (tenant_id, user_id, actor, method, event, outcome, reason, client_addr,
         db_role, details)
    VALUES (tenant_id, user_id, event_actor, coalesce(method, 'unknown'),
            'authentication', 'failure', reason, client_addr, event_role,
            event_details);

    -- Only a wrong password of an existing user counts: refusals of a locked
    -- or deactivated account do not extend the lock.
    IF method IS DISTINCT FROM 'password' OR tenant_id IS NULL OR user_id IS NULL
       OR NOT coalesce((event_details->>'counts_toward_lockout')::boolean, false) THEN
        RETURN;
    END IF;
    UPDATE taskforce.user_credentials AS c
       SET failed_attempts = c.failed_attempts + 1
     WHERE c.tenant_id = _record_failed_authentication.tenant_id
       AND c.user_id = _record_failed_authentication.user_id
       AND (c.locked_until IS NULL OR c.locked_until <= pg_catalog.clock_timestamp())
    RETURNING c.failed_attempts INTO attempts;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    SELECT p.max_failed_attempts, p.lockout_minutes
      INTO max_attempts, lockout_minutes
      FROM taskforce._password_policy(_record_failed_authentication.tenant_id) AS p;
    IF max_attempts IS NULL OR max_attempts <= 0 OR attempts < max_attempts THEN
        RETURN;
    END IF;

    lock_end := pg_catalog.clock_timestamp()
        + pg_catalog.make_interval(mins => coalesce(lockout_minutes, 0));
    UPDATE taskforce.user_credentials AS c
       SET locked_until = lock_end,
           failed_attempts = 0
     WHERE c.tenant_id = _record_failed_authentication.tenant_id
       AND c.user_id = _record_failed_authentication.user_id;
    INSERT INTO taskforce.security_events
        (tenant_id, user_id, actor, method, event, outcome, reason, client_addr,
         db_role, details)
    VALUES (tenant_id, user_id, event_actor, method,
            'lockout', 'failure', 'too many failed password attempts', client_addr,
            event_role,
            jsonb_build_object('failed_attempts', attempts,
                               'lockout_minutes', lockout_minutes,
                               'locked_until', lock_end));
END
$$;
REVOKE ALL ON FUNCTION taskforce._record_failed_authentication(text, text, text, text, inet, jsonb, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._record_failed_authentication(text, text, text, text, inet, jsonb, text, text) IS
    'internal: records a failed authentication and counts failed passwords towards lockout';

-- Callers may leave client_addr null: the C code then uses the calling
-- backend's inet_client_addr(), not the recording worker's.
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
    'internal: records a failed authentication durably, then raises invalid_authorization_specification with the reason';
