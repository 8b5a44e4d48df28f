-- src/sql/upgrade/0.2.0--0.3.0-lockout.sql: what 0.3.0 changes in 0.2.0's objects for the lockout fixes.
-- Failed passwords are counted in shared memory before the password is
-- checked (src/auth/lockout.c) instead of by a background worker;
-- authentication events that cannot be written in the caller's transaction
-- go through a shared-memory queue (src/auth/events.c); bearer-credential
-- authentication writes nothing.  The definitions below are those of
-- src/sql/security_events.sql, passwords.sql, identity.sql, jwt.sql and
-- api_keys.sql.

ALTER TABLE taskforce.security_events DROP CONSTRAINT security_events_event_known;
ALTER TABLE taskforce.security_events ADD CONSTRAINT security_events_event_known CHECK (event IN (
        'authentication', 'lockout',
        'api_key_created', 'api_key_revoked', 'api_key_rotated',
        'role_granted', 'role_revoked', 'role_created', 'role_updated', 'role_deleted',
        'user_created', 'user_updated', 'user_deactivated', 'user_reactivated',
        'user_deleted', 'user_unlocked', 'password_changed', 'password_policy_changed',
        'events_lost'));

DROP FUNCTION taskforce._record_failed_authentication(text, text, text, text, inet, jsonb, text, text);
DROP FUNCTION taskforce._complete_authentication(text, text, text, text[], text[], text, interval, inet, jsonb);

CREATE OR REPLACE FUNCTION taskforce._record_security_event(
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

COMMENT ON FUNCTION taskforce._reject_authentication(text, text, text, text, inet, jsonb) IS
    'internal: queues a failed authentication, then raises (for passwords, one generic failure whatever the reason)';

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

COMMENT ON COLUMN taskforce.user_credentials.failed_attempts IS
    'failed passwords since the last success, unlock or lockout, as last persisted from shared memory (src/auth/lockout.c)';
COMMENT ON COLUMN taskforce.user_credentials.locked_until IS
    'no password is accepted before this time, as last persisted from shared memory (src/auth/lockout.c)';

CREATE FUNCTION taskforce._password_attempt_begin(
    tenant_id text, user_id text, stored_failed_attempts integer,
    stored_locked_until timestamptz, max_failed_attempts integer, lockout_minutes integer)
    RETURNS text
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_password_attempt_begin';
REVOKE ALL ON FUNCTION taskforce._password_attempt_begin(text, text, integer, timestamptz, integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_attempt_begin(text, text, integer, timestamptz, integer, integer) IS
    'internal: counts a password attempt before its outcome; null to go on, or why it must fail (locked)';

CREATE FUNCTION taskforce._password_attempt_end(
    tenant_id text, user_id text, succeeded boolean,
    max_failed_attempts integer, lockout_minutes integer)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_password_attempt_end';
REVOKE ALL ON FUNCTION taskforce._password_attempt_end(text, text, boolean, integer, integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_attempt_end(text, text, boolean, integer, integer) IS
    'internal: ends a counted password attempt: a success clears the count, a failure may lock the account';

CREATE FUNCTION taskforce._password_locked_until(
    tenant_id text, user_id text, stored_locked_until timestamptz)
    RETURNS timestamptz
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_password_locked_until';
REVOKE ALL ON FUNCTION taskforce._password_locked_until(text, text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_locked_until(text, text, timestamptz) IS
    'internal: until when a user is locked out (null when not), from shared memory or else the stored value';

CREATE FUNCTION taskforce._password_state_changed()
    RETURNS trigger
    LANGUAGE C
    AS 'MODULE_PATHNAME', 'taskforce_password_state_changed';
REVOKE ALL ON FUNCTION taskforce._password_state_changed() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_state_changed() IS
    'internal: trigger that makes a committed change to a credentials row (unlock, new password) replace the shared counters';

CREATE TRIGGER reset_lockout_state
    AFTER INSERT OR UPDATE OR DELETE ON taskforce.user_credentials
    FOR EACH ROW EXECUTE FUNCTION taskforce._password_state_changed();

CREATE OR REPLACE FUNCTION taskforce.unlock_user(user_id text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', tenant_id);
    c taskforce.user_credentials;
BEGIN
    PERFORM taskforce._lock_user(tenant, user_id);
    -- Unlocking lets guessing go on: for its own user, a context limited to
    -- scopes must not reopen the way to a password wider than itself.
    PERFORM taskforce._check_may_manage_user(tenant, user_id, true);
    SELECT * INTO c FROM taskforce.user_credentials AS x
     WHERE x.tenant_id = tenant AND x.user_id = unlock_user.user_id
       FOR UPDATE;
    c.locked_until := taskforce._password_locked_until(tenant, unlock_user.user_id, c.locked_until);
    IF NOT FOUND OR c.locked_until IS NULL OR c.locked_until <= pg_catalog.clock_timestamp() THEN
        RAISE EXCEPTION 'user "%" is not locked', user_id
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE taskforce.user_credentials AS x
       SET failed_attempts = 0, locked_until = NULL
     WHERE x.tenant_id = tenant AND x.user_id = unlock_user.user_id;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'user_unlocked', 'success',
        NULL, NULL, pg_catalog.jsonb_build_object('locked_until', c.locked_until));
END
$$;
COMMENT ON FUNCTION taskforce.unlock_user(text, text) IS
    'lifts a user''s lockout after failed passwords; needs user:manage';

CREATE OR REPLACE FUNCTION taskforce.authenticate_password(
    tenant_id text,
    username text,
    password text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    u taskforce.users;
    c taskforce.user_credentials;
    policy taskforce.password_policies;
    failure text;
    hash text;
    tenant_status text;
    details jsonb := '{}';
BEGIN
    IF tenant_id IS NULL OR username IS NULL OR password IS NULL THEN
        RAISE EXCEPTION 'tenant_id, username and password must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A cancellation (statement_timeout, pg_cancel_backend) can land at
    -- any statement of this block, and the statement it lands in depends on
    -- the user and on the password.  Re-raised from one place, it tells
    -- neither.  (The attempt stays counted; its event is queued when the
    -- transaction ends.)
    BEGIN
        policy := taskforce._password_policy(authenticate_password.tenant_id);
        SELECT * INTO u FROM taskforce.users AS x
         WHERE x.tenant_id = authenticate_password.tenant_id
           AND x.username = authenticate_password.username;
        IF FOUND THEN
            SELECT * INTO c FROM taskforce.user_credentials AS x
             WHERE x.tenant_id = u.tenant_id AND x.user_id = u.user_id;
        END IF;

        -- Counted before the password is looked at (nothing to count without
        -- a password, but the same call, and the same error if not preloaded).
        failure := taskforce._password_attempt_begin(c.tenant_id, c.user_id, c.failed_attempts,
            c.locked_until, policy.max_failed_attempts, policy.lockout_minutes);
        IF c.user_id IS NULL THEN
            failure := CASE WHEN u.user_id IS NULL THEN 'unknown user' ELSE 'user has no password' END;
            IF u.user_id IS NULL THEN
                details := pg_catalog.jsonb_build_object('username', pg_catalog.left(authenticate_password.username, 128));
            END IF;
        END IF;
        -- One bcrypt whatever happens: against the real hash only when the
        -- attempt may succeed, else against a dummy hash of the same cost.
        hash := CASE WHEN failure IS NULL THEN c.password_hash
                     ELSE taskforce._dummy_bcrypt_hash(coalesce(
                         pg_catalog.substr(c.password_hash, 5, 2)::integer, policy.bcrypt_cost)) END;
        IF taskforce._bcrypt(password, hash) IS DISTINCT FROM hash AND failure IS NULL THEN
            failure := 'wrong password';
            details := '{"counts_toward_lockout": true}';
        END IF;
        IF failure IS NULL AND u.status <> 'active' THEN
            failure := 'user is deactivated';
        END IF;
        IF failure IS NULL THEN
            SELECT t.status INTO tenant_status FROM taskforce.tenants AS t
             WHERE t.tenant_id = u.tenant_id;
            IF tenant_status IS DISTINCT FROM 'active' THEN
                failure := 'tenant is ' || coalesce(tenant_status, 'unknown');
            END IF;
        END IF;
        IF c.user_id IS NOT NULL AND failure IS DISTINCT FROM 'account is locked'
           AND failure IS DISTINCT FROM 'lockout table is full' THEN
            PERFORM taskforce._password_attempt_end(u.tenant_id, u.user_id, failure IS NULL,
                policy.max_failed_attempts, policy.lockout_minutes);
        END IF;
        IF failure IS NOT NULL THEN
            PERFORM taskforce._reject_authentication('password', authenticate_password.tenant_id,
                u.user_id, failure, client_addr, details);
        END IF;
    EXCEPTION WHEN query_canceled THEN
        RAISE EXCEPTION USING ERRCODE = 'query_canceled', MESSAGE = SQLERRM;
    END;
    -- Only a right password of an active user gets here.  (Outside the
    -- block, whose subtransaction would hide that a transaction-scoped
    -- context is established outside a transaction block.)
    PERFORM taskforce._complete_authentication(u.tenant_id, u.user_id, 'password', '{}', NULL,
                                               scope, ttl, client_addr, '{}', NULL);
END
$$;
COMMENT ON FUNCTION taskforce.authenticate_password(text, text, text, text, interval, inet) IS
    'checks a user''s password and establishes the context; every failure raises invalid_password "authentication failed" and counts towards lockout';

COMMENT ON COLUMN taskforce.users.last_login_at IS
    'latest recorded login: every password login, the first use of each token or key in taskforce.auth_success_event_interval (default 1 hour); written when queued events are flushed';

CREATE FUNCTION taskforce._complete_authentication(
    tenant_id text,
    user_id text,
    method text,
    asserted_roles text[],
    permission_scopes text[],
    scope text,
    ttl interval,
    client_addr inet,
    details jsonb,
    credential text)
    RETURNS void
    LANGUAGE plpgsql
    AS $$
DECLARE
    tenant_status text;
    user_status text;
    known_roles text[];
BEGIN
    SELECT t.status INTO tenant_status FROM taskforce.tenants AS t
     WHERE t.tenant_id = _complete_authentication.tenant_id;
    IF NOT FOUND OR tenant_status <> 'active' THEN
        PERFORM taskforce._reject_authentication(method, tenant_id, user_id,
            CASE WHEN tenant_status IS NULL THEN 'unknown tenant' ELSE 'tenant is ' || tenant_status END,
            client_addr, details);
    END IF;
    SELECT u.status INTO user_status FROM taskforce.users AS u
     WHERE u.tenant_id = _complete_authentication.tenant_id
       AND u.user_id = _complete_authentication.user_id;
    IF NOT FOUND OR user_status <> 'active' THEN
        PERFORM taskforce._reject_authentication(method, tenant_id, user_id,
            CASE WHEN user_status IS NULL THEN 'unknown user' ELSE 'user is deactivated' END,
            client_addr, details);
    END IF;
    IF asserted_roles IS NULL OR pg_catalog.cardinality(asserted_roles) = 0 THEN
        known_roles := '{}';
    ELSE
        SELECT coalesce(pg_catalog.array_agg(DISTINCT a.role_name ORDER BY a.role_name), '{}') INTO known_roles
          FROM pg_catalog.unnest(asserted_roles) AS a(role_name)
         WHERE EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = a.role_name)
            OR EXISTS (SELECT FROM taskforce.roles AS r
                        WHERE r.tenant_id = _complete_authentication.tenant_id
                          AND r.role_name = a.role_name);
    END IF;
    PERFORM taskforce._establish_context(tenant_id, user_id, known_roles, method,
                                         scope, ttl, permission_scopes);
    PERFORM taskforce._note_authentication(method, credential, tenant_id, user_id,
                                           client_addr, details);
END
$$;
REVOKE ALL ON FUNCTION taskforce._complete_authentication(text, text, text, text[], text[], text, interval, inet, jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._complete_authentication(text, text, text, text[], text[], text, interval, inet, jsonb, text) IS
    'internal: after a credential verifies, checks tenant and user, establishes the context and queues the login''s event';

CREATE FUNCTION taskforce._authenticate_jwt(
    token text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    id record;
    details jsonb;
    remaining interval;
    provisioned boolean := true;
BEGIN
    IF token IS NULL THEN
        RAISE EXCEPTION 'token must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    id := taskforce._jwt_identity(token);
    details := jsonb_strip_nulls(jsonb_build_object('issuer', id.issuer, 'kid', id.kid));
    IF NOT id.verified THEN
        PERFORM taskforce._reject_authentication('jwt', id.tenant_id, id.user_id, id.failure,
                                                 client_addr, details);
    END IF;
    IF id.provision_users AND NOT EXISTS (
            SELECT FROM taskforce.users AS u
             WHERE u.tenant_id = id.tenant_id AND u.user_id = id.user_id)
       AND EXISTS (SELECT FROM taskforce.tenants AS t
                    WHERE t.tenant_id = id.tenant_id AND t.status = 'active') THEN
        BEGIN
            INSERT INTO taskforce.users (tenant_id, user_id, username, email)
            VALUES (id.tenant_id, id.user_id, coalesce(id.username, id.user_id), id.email);
            PERFORM taskforce._record_security_event(id.tenant_id, id.user_id, 'jwt', 'user_created',
                'success', 'provisioned from a token', client_addr, details);
        EXCEPTION
            WHEN check_violation OR unique_violation THEN
                -- A concurrent first login may have provisioned the user;
                -- otherwise the claims clash with the rules or another user.
                provisioned := EXISTS (SELECT FROM taskforce.users AS u
                                        WHERE u.tenant_id = id.tenant_id AND u.user_id = id.user_id);
        END;
        IF NOT provisioned THEN
            PERFORM taskforce._reject_authentication('jwt', id.tenant_id, id.user_id,
                'token claims cannot provision a user', client_addr, details);
        END IF;
    END IF;
    -- The context never outlives the token.
    remaining := id.expires_at - pg_catalog.clock_timestamp();
    IF ttl IS NULL OR ttl > remaining THEN
        ttl := least(remaining, pg_catalog.current_setting('taskforce.max_context_ttl')::interval);
    END IF;
    PERFORM taskforce._complete_authentication(id.tenant_id, id.user_id, 'jwt',
        CASE WHEN id.trust_token_roles THEN id.roles END, NULL, scope, ttl, client_addr, details,
        token);
END
$$;
REVOKE ALL ON FUNCTION taskforce._authenticate_jwt(text, text, interval, inet) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._authenticate_jwt(text, text, interval, inet) IS
    'internal: authenticate_jwt for the cases its C fast path hands over (failures, provisioning, token roles)';

CREATE OR REPLACE FUNCTION taskforce.authenticate_jwt(
    token text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_authenticate_jwt';
COMMENT ON FUNCTION taskforce.authenticate_jwt(text, text, interval, inet) IS
    'verifies a JWT and establishes the context of its tenant and user; pass the token as a bind parameter';

COMMENT ON COLUMN taskforce.api_keys.last_used_at IS
    'first successful authentication in the latest taskforce.auth_success_event_interval (default 1 hour), written when queued events are flushed';

CREATE OR REPLACE FUNCTION taskforce.authenticate_api_key(
    api_key text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k taskforce.api_keys;
    remaining interval;
    longest interval;
    context_ttl interval := ttl;
BEGIN
    IF api_key IS NULL THEN
        RAISE EXCEPTION 'api_key must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF api_key !~ '^tf_[A-Za-z0-9_-]{43}$' THEN
        PERFORM taskforce._reject_authentication('api_key', NULL, NULL, 'malformed api key',
                                                 client_addr, '{}');
    END IF;
    -- key_hash is unique only per tenant, but a key has 256 random bits:
    -- two tenants never hold the same one.
    SELECT * INTO k FROM taskforce.api_keys AS x
     WHERE x.key_hash = pg_catalog.sha256(pg_catalog.convert_to(api_key, 'UTF8'));
    IF NOT FOUND THEN
        PERFORM taskforce._reject_authentication('api_key', NULL, NULL, 'unknown api key',
            client_addr, pg_catalog.jsonb_build_object('key_prefix', pg_catalog.left(api_key, 8)));
    END IF;
    IF k.revoked_at IS NOT NULL THEN
        PERFORM taskforce._reject_authentication('api_key', k.tenant_id, k.user_id,
            'api key is revoked', client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id));
    END IF;
    IF k.expires_at <= pg_catalog.clock_timestamp() THEN
        PERFORM taskforce._reject_authentication('api_key', k.tenant_id, k.user_id,
            'api key has expired', client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id));
    END IF;

    -- The context must not outlive the key.  Without a ttl a context lasts
    -- taskforce.max_context_ttl (1 hour unless configured, as in
    -- src/context/context.c; the setting may not be defined yet if the
    -- library has not been loaded in this session).
    IF k.expires_at IS NOT NULL THEN
        remaining := k.expires_at - pg_catalog.clock_timestamp();
        longest := coalesce(ttl,
            pg_catalog.current_setting('taskforce.max_context_ttl', true)::interval,
            interval '1 hour');
        IF remaining < longest THEN
            context_ttl := remaining;
        END IF;
    END IF;
    -- Writes nothing: the key's use (last_used_at) is recorded with its
    -- success event, for its first use in taskforce.auth_success_event_interval.
    PERFORM taskforce._complete_authentication(k.tenant_id, k.user_id, 'api_key', k.roles, k.scopes,
        scope, context_ttl, client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id),
        k.key_id::text);
END
$$;
COMMENT ON FUNCTION taskforce.authenticate_api_key(text, text, interval, inet) IS
    'checks an API key and establishes its user''s context with the key''s roles and scopes, never outliving the key';
