-- src/sql/passwords.sql: password policies, bcrypt password hashes,
-- password authentication and lockout after failed attempts.

-- pgcrypto is relocatable, so the schema it lives in is known only when
-- this script runs (PostgreSQL 16 would spell it @extschema:pgcrypto@).
-- The wrappers name that schema explicitly and have SQL-standard bodies,
-- which bind the pgcrypto functions once, here: no search_path and no
-- look-alike function created later can redirect them.
DO $$
DECLARE
    crypto_schema name := (
        SELECT n.nspname
          FROM pg_catalog.pg_extension AS e
          JOIN pg_catalog.pg_namespace AS n ON n.oid = e.extnamespace
         WHERE e.extname = 'pgcrypto');
BEGIN
    IF crypto_schema IS NULL THEN
        RAISE EXCEPTION 'taskforce requires the pgcrypto extension'
            USING ERRCODE = 'undefined_object';
    END IF;
    EXECUTE pg_catalog.format($f$
        CREATE FUNCTION taskforce._bcrypt(password text, salt text) RETURNS text
            LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
            RETURN %I.crypt(password, salt)$f$, crypto_schema);
    EXECUTE pg_catalog.format($f$
        CREATE FUNCTION taskforce._bcrypt_salt(cost integer) RETURNS text
            LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
            RETURN %I.gen_salt('bf', cost)$f$, crypto_schema);
    EXECUTE pg_catalog.format($f$
        CREATE FUNCTION taskforce._random_bytes(n integer) RETURNS bytea
            LANGUAGE sql VOLATILE STRICT PARALLEL SAFE
            RETURN %I.gen_random_bytes(n)$f$, crypto_schema);
END
$$;
REVOKE ALL ON FUNCTION taskforce._bcrypt(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._bcrypt(text, text) IS
    'internal: pgcrypto crypt(), hashing a password with a bcrypt salt or checking it against a bcrypt hash';
REVOKE ALL ON FUNCTION taskforce._bcrypt_salt(integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._bcrypt_salt(integer) IS
    'internal: pgcrypto gen_salt(''bf'', cost), a fresh random bcrypt salt';
REVOKE ALL ON FUNCTION taskforce._random_bytes(integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._random_bytes(integer) IS
    'internal: pgcrypto gen_random_bytes(), cryptographically strong random bytes (API keys)';

-- One row per tenant that changed the defaults; password_policy() supplies
-- the defaults for the others.  bcrypt uses only the first 72 bytes of a
-- password, hence the ceiling on max_length.
CREATE TABLE taskforce.password_policies (
    tenant_id           text        NOT NULL,
    min_length          integer     NOT NULL DEFAULT 12,
    max_length          integer     NOT NULL DEFAULT 72,
    require_uppercase   boolean     NOT NULL DEFAULT true,
    require_lowercase   boolean     NOT NULL DEFAULT true,
    require_digit       boolean     NOT NULL DEFAULT true,
    require_symbol      boolean     NOT NULL DEFAULT true,
    max_failed_attempts integer     NOT NULL DEFAULT 5,
    lockout_minutes     integer     NOT NULL DEFAULT 15,
    bcrypt_cost         integer     NOT NULL DEFAULT 10,
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT password_policies_pkey PRIMARY KEY (tenant_id),
    CONSTRAINT password_policies_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id) ON DELETE CASCADE,
    CONSTRAINT password_policies_length_range
        CHECK (min_length BETWEEN 8 AND max_length AND max_length <= 72),
    CONSTRAINT password_policies_attempts_range CHECK (max_failed_attempts BETWEEN 1 AND 100),
    CONSTRAINT password_policies_lockout_range CHECK (lockout_minutes BETWEEN 1 AND 10080),
    CONSTRAINT password_policies_cost_range CHECK (bcrypt_cost BETWEEN 4 AND 15)
);
REVOKE ALL ON taskforce.password_policies FROM PUBLIC;
COMMENT ON TABLE taskforce.password_policies IS
    'password rules, lockout after failed attempts and bcrypt cost of each tenant that changed the defaults';
COMMENT ON COLUMN taskforce.password_policies.min_length IS
    'fewest characters a password may have';
COMMENT ON COLUMN taskforce.password_policies.max_length IS
    'most bytes a password may have; bcrypt ignores any byte past the 72nd';
COMMENT ON COLUMN taskforce.password_policies.max_failed_attempts IS
    'consecutive failed passwords after which the account is locked';
COMMENT ON COLUMN taskforce.password_policies.lockout_minutes IS
    'how long a locked account stays locked';
COMMENT ON COLUMN taskforce.password_policies.bcrypt_cost IS
    'bcrypt work factor (log2 of the rounds) for passwords set from now on';
SELECT pg_catalog.pg_extension_config_dump('taskforce.password_policies', '');

-- The password hash of each user that has one.  No role may read it: only
-- the functions below, running as the extension's owner, do.
CREATE TABLE taskforce.user_credentials (
    tenant_id           text        NOT NULL,
    user_id             text        NOT NULL,
    password_hash       text        NOT NULL,
    password_changed_at timestamptz NOT NULL,
    failed_attempts     integer     NOT NULL DEFAULT 0,
    locked_until        timestamptz,
    CONSTRAINT user_credentials_pkey PRIMARY KEY (tenant_id, user_id),
    CONSTRAINT user_credentials_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE CASCADE,
    CONSTRAINT user_credentials_bcrypt CHECK (password_hash ~ '^\$2[abxy]?\$[0-9]{2}\$[./A-Za-z0-9]{53}$'),
    CONSTRAINT user_credentials_attempts_range CHECK (failed_attempts >= 0)
);
REVOKE ALL ON taskforce.user_credentials FROM PUBLIC;
COMMENT ON TABLE taskforce.user_credentials IS
    'bcrypt password hashes, failed attempts and lockout of users; readable by no ordinary role';
COMMENT ON COLUMN taskforce.user_credentials.password_hash IS
    'bcrypt hash (pgcrypto crypt with a bf salt), salt and cost included';
COMMENT ON COLUMN taskforce.user_credentials.failed_attempts IS
    'failed passwords since the last success, unlock or lockout, as last persisted from shared memory (src/auth/lockout.c)';
COMMENT ON COLUMN taskforce.user_credentials.locked_until IS
    'no password is accepted before this time, as last persisted from shared memory (src/auth/lockout.c)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.user_credentials', '');

-- The counters behind lockout live in shared memory (src/auth/lockout.c);
-- the columns above are their lazily persisted copy.  These functions are
-- the only way to them.
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

-- The built-in policy, as a row for tenant_id.  Keep it in step with the
-- column defaults of password_policies (the regression test compares them).
CREATE FUNCTION taskforce._default_password_policy(tenant_id text)
    RETURNS taskforce.password_policies
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT ROW(tenant_id, 12, 72, true, true, true, true, 5, 15, 10, NULL)::taskforce.password_policies
$$;
REVOKE ALL ON FUNCTION taskforce._default_password_policy(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._default_password_policy(text) IS
    'internal: the built-in password policy as a row for the tenant';

-- The tenant's policy or the built-in one, with no access check.
CREATE FUNCTION taskforce._password_policy(tenant_id text)
    RETURNS taskforce.password_policies
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT coalesce(
        (SELECT p FROM taskforce.password_policies AS p
          WHERE p.tenant_id = _password_policy.tenant_id),
        taskforce._default_password_policy(tenant_id))
$$;
REVOKE ALL ON FUNCTION taskforce._password_policy(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_policy(text) IS
    'internal: the password policy of a tenant, or the built-in one, without access check';

-- Every rule the password breaks, in a fixed order.
CREATE FUNCTION taskforce._password_violations(password text, policy taskforce.password_policies)
    RETURNS SETOF text
    LANGUAGE sql STABLE PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT v.violation
      FROM (VALUES
            (1, pg_catalog.char_length(password) < policy.min_length,
             pg_catalog.format('must be at least %s characters', policy.min_length)),
            (2, pg_catalog.octet_length(password) > policy.max_length,
             pg_catalog.format('must be at most %s bytes', policy.max_length)),
            (3, policy.require_uppercase AND password !~ '[[:upper:]]',
             'must contain an uppercase letter'),
            (4, policy.require_lowercase AND password !~ '[[:lower:]]',
             'must contain a lowercase letter'),
            (5, policy.require_digit AND password !~ '[0-9]',
             'must contain a digit'),
            (6, policy.require_symbol AND password !~ '[^[:alnum:][:space:][:cntrl:]]',
             'must contain a symbol')) AS v(n, violated, violation)
     WHERE v.violated
     ORDER BY v.n
$$;
REVOKE ALL ON FUNCTION taskforce._password_violations(text, taskforce.password_policies) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._password_violations(text, taskforce.password_policies) IS
    'internal: every rule of the policy the password breaks, in a fixed order';

-- Decides which tenant a call about a user's credentials acts on, and
-- whether it may.  The context's own (active) user needs no permission,
-- except to set its password from an API key's context (a key must not
-- turn into a password that outlives it); every other caller goes through
-- _authorize.  Then, unless sets_password is null (the call only reads),
-- the rule of _check_may_manage_user: sets_password says whether the call
-- yields a credential carrying all of the subject's grants.
CREATE FUNCTION taskforce._authorize_self(
    permission text, tenant_id text, subject text, sets_password boolean)
    RETURNS text
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    ctx record := taskforce.current_context();
    tenant text;
BEGIN
    IF ctx.tenant_id IS NOT NULL AND subject = ctx.user_id
       AND (_authorize_self.tenant_id IS NULL OR _authorize_self.tenant_id = ctx.tenant_id)
       AND (sets_password IS NOT TRUE OR ctx.auth_method <> 'api_key')
       AND EXISTS (SELECT FROM taskforce.users AS u
                    WHERE u.tenant_id = ctx.tenant_id AND u.user_id = subject
                      AND u.status = 'active') THEN
        tenant := ctx.tenant_id;
    ELSE
        tenant := taskforce._authorize(permission, _authorize_self.tenant_id);
    END IF;
    IF subject IS NOT NULL AND sets_password IS NOT NULL THEN
        PERFORM taskforce._check_may_manage_user(tenant, subject, sets_password);
    END IF;
    RETURN tenant;
END
$$;
REVOKE ALL ON FUNCTION taskforce._authorize_self(text, text, text, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._authorize_self(text, text, text, boolean) IS
    'internal: the tenant a call about a user''s credentials acts on; the context''s own user needs no permission; checks who may manage whom';

CREATE FUNCTION taskforce.password_policy(tenant_id text DEFAULT NULL)
    RETURNS taskforce.password_policies
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._password_policy(taskforce._authorize(NULL, tenant_id))
$$;
COMMENT ON FUNCTION taskforce.password_policy(text) IS
    'the password policy of the current tenant (the built-in one unless changed); administrators without a context name the tenant';

CREATE FUNCTION taskforce.set_password_policy(
    tenant_id text DEFAULT NULL,
    min_length integer DEFAULT NULL,
    max_length integer DEFAULT NULL,
    require_uppercase boolean DEFAULT NULL,
    require_lowercase boolean DEFAULT NULL,
    require_digit boolean DEFAULT NULL,
    require_symbol boolean DEFAULT NULL,
    max_failed_attempts integer DEFAULT NULL,
    lockout_minutes integer DEFAULT NULL,
    bcrypt_cost integer DEFAULT NULL)
    RETURNS taskforce.password_policies
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('policy:manage', tenant_id);
    p taskforce.password_policies;
BEGIN
    -- Start from the current policy, locked so that concurrent changes to
    -- different fields do not undo each other.
    INSERT INTO taskforce.password_policies AS x (tenant_id) VALUES (tenant)
    ON CONFLICT ON CONSTRAINT password_policies_pkey DO NOTHING;
    SELECT * INTO p FROM taskforce.password_policies AS x WHERE x.tenant_id = tenant FOR UPDATE;

    p.min_length := coalesce(set_password_policy.min_length, p.min_length);
    p.max_length := coalesce(set_password_policy.max_length, p.max_length);
    p.require_uppercase := coalesce(set_password_policy.require_uppercase, p.require_uppercase);
    p.require_lowercase := coalesce(set_password_policy.require_lowercase, p.require_lowercase);
    p.require_digit := coalesce(set_password_policy.require_digit, p.require_digit);
    p.require_symbol := coalesce(set_password_policy.require_symbol, p.require_symbol);
    p.max_failed_attempts := coalesce(set_password_policy.max_failed_attempts, p.max_failed_attempts);
    p.lockout_minutes := coalesce(set_password_policy.lockout_minutes, p.lockout_minutes);
    p.bcrypt_cost := coalesce(set_password_policy.bcrypt_cost, p.bcrypt_cost);

    IF p.max_length NOT BETWEEN 8 AND 72 THEN
        RAISE EXCEPTION 'max_length must be between 8 and 72'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'bcrypt uses only the first 72 bytes of a password.';
    END IF;
    IF p.min_length NOT BETWEEN 8 AND p.max_length THEN
        RAISE EXCEPTION 'min_length must be between 8 and max_length (%)', p.max_length
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.max_failed_attempts NOT BETWEEN 1 AND 100 THEN
        RAISE EXCEPTION 'max_failed_attempts must be between 1 and 100'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.lockout_minutes NOT BETWEEN 1 AND 10080 THEN
        RAISE EXCEPTION 'lockout_minutes must be between 1 and 10080 (one week)'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF p.bcrypt_cost NOT BETWEEN 4 AND 15 THEN
        RAISE EXCEPTION 'bcrypt_cost must be between 4 and 15'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each step doubles the work of hashing and of checking a password; 10 or more is usual.';
    END IF;

    UPDATE taskforce.password_policies AS x
       SET min_length = p.min_length,
           max_length = p.max_length,
           require_uppercase = p.require_uppercase,
           require_lowercase = p.require_lowercase,
           require_digit = p.require_digit,
           require_symbol = p.require_symbol,
           max_failed_attempts = p.max_failed_attempts,
           lockout_minutes = p.lockout_minutes,
           bcrypt_cost = p.bcrypt_cost,
           updated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant
    RETURNING * INTO p;
    PERFORM taskforce._record_security_event(tenant, NULL, 'sql', 'password_policy_changed', 'success',
        NULL, NULL, pg_catalog.to_jsonb(p) - 'tenant_id' - 'updated_at');
    RETURN p;
END
$$;
COMMENT ON FUNCTION taskforce.set_password_policy(text, integer, integer, boolean, boolean, boolean, boolean, integer, integer, integer) IS
    'changes the given fields of the current tenant''s password policy (null keeps a field); needs policy:manage';

CREATE FUNCTION taskforce.password_policy_violations(password text, tenant_id text DEFAULT NULL)
    RETURNS SETOF text
    LANGUAGE plpgsql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF password IS NULL THEN
        RAISE EXCEPTION 'password must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN QUERY
        SELECT v FROM taskforce._password_violations(
            password, taskforce.password_policy(password_policy_violations.tenant_id)) AS v;
END
$$;
COMMENT ON FUNCTION taskforce.password_policy_violations(text, text) IS
    'every rule of the current tenant''s password policy the password breaks, one row each; none if it complies';

CREATE FUNCTION taskforce.set_password(user_id text, password text, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize_self('user:manage', tenant_id, user_id, true);
    policy taskforce.password_policies;
    violations text[];
BEGIN
    IF user_id IS NULL OR password IS NULL THEN
        RAISE EXCEPTION 'user_id and password must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._lock_user(tenant, user_id);
    policy := taskforce._password_policy(tenant);
    SELECT pg_catalog.array_agg(v) INTO violations
      FROM taskforce._password_violations(password, policy) AS v;
    IF violations IS NOT NULL THEN
        RAISE EXCEPTION 'password does not meet the policy'
            USING ERRCODE = 'invalid_parameter_value',
                  DETAIL = 'The password ' || pg_catalog.array_to_string(violations, ', ') || '.';
    END IF;
    INSERT INTO taskforce.user_credentials AS c
        (tenant_id, user_id, password_hash, password_changed_at, failed_attempts, locked_until)
    VALUES (tenant, user_id,
            taskforce._bcrypt(password, taskforce._bcrypt_salt(policy.bcrypt_cost)),
            pg_catalog.now(), 0, NULL)
    ON CONFLICT ON CONSTRAINT user_credentials_pkey DO UPDATE
       SET password_hash = excluded.password_hash,
           password_changed_at = excluded.password_changed_at,
           failed_attempts = 0,
           locked_until = NULL;
    PERFORM taskforce._record_security_event(tenant, user_id, 'sql', 'password_changed', 'success',
        NULL, NULL,
        pg_catalog.jsonb_build_object('self_service', user_id IS NOT DISTINCT FROM taskforce.current_user_id()));
END
$$;
COMMENT ON FUNCTION taskforce.set_password(text, text, text) IS
    'sets a user''s password if it meets the tenant''s policy, and clears any lockout; the user itself, or needs user:manage';

CREATE FUNCTION taskforce.unlock_user(user_id text, tenant_id text DEFAULT NULL)
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

-- A bcrypt hash of nothing in particular, at the given cost: checking a
-- password against it takes as long as against a real hash of that cost.
CREATE FUNCTION taskforce._dummy_bcrypt_hash(cost integer)
    RETURNS text
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT '$2a$' || pg_catalog.lpad(cost::text, 2, '0')
        || '$taskforcedummysaltxxuAmJ0EhRUbfMC5gEBzFiXo8oxFwLYxSeQ'
$$;
REVOKE ALL ON FUNCTION taskforce._dummy_bcrypt_hash(integer) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._dummy_bcrypt_hash(integer) IS
    'internal: a fixed bcrypt hash of the given cost, for equal timing when there is no real one';

-- Callers pass credentials as bind parameters, never in the query text.
-- Executable by PUBLIC (the default): it needs no context, only the
-- password.  The attempt is counted (in shared memory) before the
-- password is checked, so a cancelled attempt counts as failed.  Every
-- refusal (unknown user, no password, locked, deactivated, suspended
-- tenant, wrong password) does the same work, one bcrypt at the user's
-- cost, and raises the same error from the same line; the reason goes to
-- the security event only.  A success writes nothing in this transaction
-- (its event is queued), so it works on a hot standby.
CREATE FUNCTION taskforce.authenticate_password(
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
        -- Under an older snapshot a replaced password may still verify.
        IF failure IS NULL
           AND NOT taskforce._credential_is_current('password', u.tenant_id, u.user_id, c.password_hash) THEN
            failure := 'password has changed';
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

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.password_policies'::regclass), ('taskforce.user_credentials')) AS v(t);
