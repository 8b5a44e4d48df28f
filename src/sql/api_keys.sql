-- src/sql/api_keys.sql: API keys for services and programmatic access,
-- stored as hashes and shown once.

CREATE TABLE taskforce.api_keys (
    tenant_id      text        NOT NULL,
    key_id         uuid        NOT NULL DEFAULT pg_catalog.gen_random_uuid(),
    user_id        text        NOT NULL,
    name           text        NOT NULL,
    key_prefix     text        NOT NULL,
    key_hash       bytea       NOT NULL,
    roles          text[]      NOT NULL DEFAULT '{}',
    scopes         text[],
    expires_at     timestamptz,
    metadata       jsonb       NOT NULL DEFAULT '{}',
    created_at     timestamptz NOT NULL DEFAULT pg_catalog.now(),
    created_by     text        NOT NULL,
    revoked_at     timestamptz,
    revoked_reason text,
    last_used_at   timestamptz,
    rotated_to     uuid,
    CONSTRAINT api_keys_pkey PRIMARY KEY (tenant_id, key_id),
    CONSTRAINT api_keys_key_hash_key UNIQUE (tenant_id, key_hash),
    CONSTRAINT api_keys_user_fkey FOREIGN KEY (tenant_id, user_id)
        REFERENCES taskforce.users (tenant_id, user_id) ON DELETE CASCADE,
    CONSTRAINT api_keys_rotated_to_fkey FOREIGN KEY (tenant_id, rotated_to)
        REFERENCES taskforce.api_keys (tenant_id, key_id) ON DELETE SET NULL (rotated_to),
    CONSTRAINT api_keys_name_present CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT api_keys_prefix_format CHECK (key_prefix ~ '^tf_[A-Za-z0-9_-]{5}$'),
    CONSTRAINT api_keys_hash_length CHECK (pg_catalog.octet_length(key_hash) = 32),
    CONSTRAINT api_keys_metadata_object CHECK (pg_catalog.jsonb_typeof(metadata) = 'object'),
    CONSTRAINT api_keys_revoked_reason CHECK (revoked_reason IS NULL OR revoked_at IS NOT NULL)
);
-- Authentication finds a key by its hash alone, before the tenant is known.
CREATE INDEX api_keys_key_hash ON taskforce.api_keys (key_hash);
REVOKE ALL ON taskforce.api_keys FROM PUBLIC;
COMMENT ON TABLE taskforce.api_keys IS
    'API keys of users and service accounts, stored as hashes; list them with taskforce.list_api_keys()';
COMMENT ON COLUMN taskforce.api_keys.key_prefix IS
    'the first 8 characters of the key (tf_ and 5 more), to tell keys apart in listings';
-- A key is 256 random bits, so no dictionary or brute force can reach it:
-- an unsalted fast hash is as strong as bcrypt here, and lets
-- authentication find the key with one index probe.
COMMENT ON COLUMN taskforce.api_keys.key_hash IS
    'SHA-256 of the whole key; the key itself is never stored';
COMMENT ON COLUMN taskforce.api_keys.roles IS
    'roles the key asserts, on top of those granted to its user';
COMMENT ON COLUMN taskforce.api_keys.scopes IS
    'permission patterns the key is limited to, or null for no limit';
COMMENT ON COLUMN taskforce.api_keys.last_used_at IS
    'first successful authentication in the latest taskforce.auth_success_event_interval (default 1 hour), written when queued events are flushed';
COMMENT ON COLUMN taskforce.api_keys.rotated_to IS
    'the key that replaced this one';
SELECT pg_catalog.pg_extension_config_dump('taskforce.api_keys', '');

-- Generates a key for the given fields and stores its hash; returns the
-- key, the only time it is ever available.  The caller has checked the
-- fields and the caller's rights.
CREATE FUNCTION taskforce._insert_api_key(
    tenant_id text,
    user_id text,
    name text,
    roles text[],
    scopes text[],
    key_expires_at timestamptz,
    metadata jsonb)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    -- tf_ and the 32 random bytes in base64url, without padding: 46 characters.
    secret text := 'tf_' || pg_catalog.translate(
        pg_catalog.rtrim(pg_catalog.encode(taskforce._random_bytes(32), 'base64'), '='),
        '+/', '-_');
    k taskforce.api_keys;
BEGIN
    INSERT INTO taskforce.api_keys AS x
        (tenant_id, user_id, name, key_prefix, key_hash, roles, scopes, expires_at,
         metadata, created_by)
    VALUES (_insert_api_key.tenant_id, _insert_api_key.user_id, _insert_api_key.name,
            pg_catalog.left(secret, 8),
            pg_catalog.sha256(pg_catalog.convert_to(secret, 'UTF8')),
            _insert_api_key.roles, _insert_api_key.scopes, key_expires_at,
            _insert_api_key.metadata,
            coalesce(taskforce.current_user_id(), session_user::text))
    RETURNING * INTO k;
    key_id := k.key_id;
    api_key := secret;
    key_prefix := k.key_prefix;
    expires_at := k.expires_at;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION taskforce._insert_api_key(text, text, text, text[], text[], timestamptz, jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._insert_api_key(text, text, text, text[], text[], timestamptz, jsonb) IS
    'internal: generates an API key, stores its hash and returns the key once';

-- Refuses roles the tenant does not have, and roles that would give the
-- key permissions the context user does not hold itself.  Roles deleted
-- since a key was made are skipped when skip_missing (rotation): they
-- grant nothing at authentication either.
CREATE FUNCTION taskforce._check_key_roles(tenant_id text, roles text[], skip_missing boolean)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    r text;
    patterns text[] := '{}';
BEGIN
    IF roles IS NULL THEN
        RAISE EXCEPTION 'roles must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.array_ndims(roles) > 1 THEN
        RAISE EXCEPTION 'roles must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH r IN ARRAY roles LOOP
        IF r IS NULL THEN
            RAISE EXCEPTION 'roles must not contain null'
                USING ERRCODE = 'null_value_not_allowed';
        END IF;
        IF skip_missing
           AND NOT EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = r)
           AND NOT EXISTS (SELECT FROM taskforce.roles AS x
                            WHERE x.tenant_id = _check_key_roles.tenant_id AND x.role_name = r) THEN
            CONTINUE;
        END IF;
        patterns := patterns || taskforce._role_permissions(tenant_id, r);
    END LOOP;
    PERFORM taskforce._check_no_escalation(patterns);
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_key_roles(text, text[], boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_key_roles(text, text[], boolean) IS
    'internal: refuses unknown roles and roles granting more than the context user holds';

-- create_api_key's body.  PL/pgSQL cannot have an argument and a result
-- column of the same name (expires_at), hence the SQL wrapper below.
-- A context limited to permission scopes may make only keys limited to
-- scopes it holds: a key grants its user's roles as well as its own, so an
-- unlimited key would reach past the creator's scopes.
CREATE FUNCTION taskforce._check_key_scopes(scopes text[])
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF (taskforce.current_context()).permission_scopes IS NULL THEN
        RETURN;
    END IF;
    IF scopes IS NULL THEN
        RAISE EXCEPTION 'a context limited to permission scopes can make only keys limited to scopes'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Pass scopes the current context holds.';
    END IF;
    PERFORM taskforce._check_no_escalation(scopes);
END
$$;
REVOKE ALL ON FUNCTION taskforce._check_key_scopes(text[]) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_key_scopes(text[]) IS
    'internal: insufficient_privilege when a scope-limited context would make a key reaching past its scopes';

CREATE FUNCTION taskforce._create_api_key(
    user_id text,
    name text,
    roles text[],
    scopes text[],
    key_expires_at timestamptz,
    metadata jsonb,
    tenant_id text)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', _create_api_key.tenant_id);
    u taskforce.users;
    key_roles text[];
    n record;
BEGIN
    IF _create_api_key.user_id IS NULL OR _create_api_key.name IS NULL THEN
        RAISE EXCEPTION 'user_id and name must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.btrim(_create_api_key.name) = '' THEN
        RAISE EXCEPTION 'name must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF _create_api_key.metadata IS NULL OR pg_catalog.jsonb_typeof(_create_api_key.metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF key_expires_at <= pg_catalog.now() THEN
        RAISE EXCEPTION 'expires_at must be in the future'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    u := taskforce._lock_user(tenant, _create_api_key.user_id);
    IF u.status <> 'active' THEN
        RAISE EXCEPTION 'user "%" is %', u.user_id, u.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM taskforce._check_may_manage_user(tenant, u.user_id, false);
    PERFORM taskforce._check_key_roles(tenant, _create_api_key.roles, false);
    SELECT coalesce(pg_catalog.array_agg(DISTINCT r ORDER BY r), '{}') INTO key_roles
      FROM pg_catalog.unnest(_create_api_key.roles) AS r;
    IF _create_api_key.scopes IS NOT NULL THEN
        IF pg_catalog.cardinality(_create_api_key.scopes) = 0 THEN
            RAISE EXCEPTION 'scopes must not be empty'
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Pass null for a key that is not limited to scopes.';
        END IF;
        IF pg_catalog.array_ndims(_create_api_key.scopes) > 1 THEN
            RAISE EXCEPTION 'scopes must be a one-dimensional array'
                USING ERRCODE = 'invalid_parameter_value';
        END IF;
        PERFORM taskforce._validate_permission_patterns(_create_api_key.scopes);
    END IF;
    PERFORM taskforce._check_key_scopes(_create_api_key.scopes);

    SELECT * INTO n FROM taskforce._insert_api_key(tenant, _create_api_key.user_id, _create_api_key.name,
                                                   key_roles, _create_api_key.scopes,
                                                   key_expires_at, _create_api_key.metadata);
    PERFORM taskforce._record_security_event(tenant, _create_api_key.user_id, 'sql', 'api_key_created',
        'success', NULL, NULL,
        pg_catalog.jsonb_build_object('key_id', n.key_id, 'name', _create_api_key.name,
                                      'roles', key_roles, 'scopes', _create_api_key.scopes));
    key_id := n.key_id;
    api_key := n.api_key;
    key_prefix := n.key_prefix;
    expires_at := n.expires_at;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION taskforce._create_api_key(text, text, text[], text[], timestamptz, jsonb, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._create_api_key(text, text, text[], text[], timestamptz, jsonb, text) IS
    'internal: the body of create_api_key';

CREATE FUNCTION taskforce.create_api_key(
    user_id text,
    name text,
    roles text[] DEFAULT '{}',
    scopes text[] DEFAULT NULL,
    expires_at timestamptz DEFAULT NULL,
    metadata jsonb DEFAULT '{}',
    tenant_id text DEFAULT NULL)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._create_api_key(user_id, name, roles, scopes, expires_at, metadata, tenant_id)
$$;
COMMENT ON FUNCTION taskforce.create_api_key(text, text, text[], text[], timestamptz, jsonb, text) IS
    'creates an API key for an active user and returns it, the only time it is shown; needs user:manage';

-- authenticate_api_key and authenticate_password read the credential
-- under the transaction's snapshot, which in a REPEATABLE READ transaction
-- may predate its revocation or replacement: they check it again, under a
-- snapshot taken now (src/auth/current.c), before establishing a context.
CREATE FUNCTION taskforce._credential_is_current(
    method text, tenant_id text, user_id text, credential text)
    RETURNS boolean
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_credential_is_current';
REVOKE ALL ON FUNCTION taskforce._credential_is_current(text, text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._credential_is_current(text, text, text, text) IS
    'internal: true if an API key (by key_id) or a password (by its hash) that verified is still current, read under a fresh snapshot';

-- Callers pass the key as a bind parameter, never in the query text.
-- Executable by PUBLIC (the default): the key is the credential.
CREATE FUNCTION taskforce.authenticate_api_key(
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

    -- Under an older snapshot the key may look live after its revocation.
    IF NOT taskforce._credential_is_current('api_key', k.tenant_id, k.user_id, k.key_id::text) THEN
        PERFORM taskforce._reject_authentication('api_key', k.tenant_id, k.user_id,
            'api key is revoked', client_addr, pg_catalog.jsonb_build_object('key_id', k.key_id));
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

-- list_api_keys's body, under another name for the reason given at
-- _create_api_key (user_id).
CREATE FUNCTION taskforce._list_api_keys(subject text, tenant_id text)
    RETURNS TABLE (
        key_id uuid,
        user_id text,
        name text,
        key_prefix text,
        roles text[],
        scopes text[],
        expires_at timestamptz,
        created_at timestamptz,
        created_by text,
        revoked_at timestamptz,
        last_used_at timestamptz,
        status text)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize_self('user:manage', _list_api_keys.tenant_id,
                                             subject, NULL);
BEGIN
    RETURN QUERY
        SELECT k.key_id, k.user_id, k.name, k.key_prefix, k.roles, k.scopes, k.expires_at,
               k.created_at, k.created_by, k.revoked_at, k.last_used_at,
               CASE WHEN k.revoked_at IS NOT NULL THEN 'revoked'
                    WHEN k.expires_at <= pg_catalog.clock_timestamp() THEN 'expired'
                    ELSE 'active' END
          FROM taskforce.api_keys AS k
         WHERE k.tenant_id = tenant
           AND (subject IS NULL OR k.user_id = subject)
         ORDER BY k.user_id, k.created_at, k.key_id;
END
$$;
REVOKE ALL ON FUNCTION taskforce._list_api_keys(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._list_api_keys(text, text) IS
    'internal: the body of list_api_keys';

CREATE FUNCTION taskforce.list_api_keys(user_id text DEFAULT NULL, tenant_id text DEFAULT NULL)
    RETURNS TABLE (
        key_id uuid,
        user_id text,
        name text,
        key_prefix text,
        roles text[],
        scopes text[],
        expires_at timestamptz,
        created_at timestamptz,
        created_by text,
        revoked_at timestamptz,
        last_used_at timestamptz,
        status text)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._list_api_keys(user_id, tenant_id)
$$;
COMMENT ON FUNCTION taskforce.list_api_keys(text, text) IS
    'the API keys of a user (or of every user) with their status, never the key or its hash; one''s own need no permission, others'' need user:manage';

CREATE FUNCTION taskforce.revoke_api_key(key_id uuid, reason text DEFAULT NULL, tenant_id text DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    owner text;
    tenant text;
    k taskforce.api_keys;
BEGIN
    IF revoke_api_key.key_id IS NULL THEN
        RAISE EXCEPTION 'key_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- Whose key it is decides whether user:manage is needed.
    SELECT x.user_id INTO owner FROM taskforce.api_keys AS x
     WHERE x.tenant_id = coalesce(taskforce.current_tenant(), revoke_api_key.tenant_id)
       AND x.key_id = revoke_api_key.key_id;
    tenant := taskforce._authorize_self('user:manage', revoke_api_key.tenant_id, owner, false);
    SELECT * INTO k FROM taskforce.api_keys AS x
     WHERE x.tenant_id = tenant AND x.key_id = revoke_api_key.key_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'api key does not exist in tenant "%"', tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    IF k.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'api key is already revoked'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE taskforce.api_keys AS x
       SET revoked_at = pg_catalog.now(), revoked_reason = revoke_api_key.reason
     WHERE x.tenant_id = tenant AND x.key_id = k.key_id;
    PERFORM taskforce._record_security_event(tenant, k.user_id, 'sql', 'api_key_revoked', 'success',
        revoke_api_key.reason, NULL,
        pg_catalog.jsonb_build_object('key_id', k.key_id, 'name', k.name));
END
$$;
COMMENT ON FUNCTION taskforce.revoke_api_key(uuid, text, text) IS
    'revokes an API key for good; its own user, or needs user:manage';

-- rotate_api_key's body, under another name for the reason given at
-- _create_api_key (key_id).
CREATE FUNCTION taskforce._rotate_api_key(old_key_id uuid, overlap interval, tenant_id text)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('user:manage', _rotate_api_key.tenant_id);
    k taskforce.api_keys;
    u taskforce.users;
    n record;
BEGIN
    IF old_key_id IS NULL OR overlap IS NULL THEN
        RAISE EXCEPTION 'key_id and overlap must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF overlap < interval '0' THEN
        RAISE EXCEPTION 'overlap must not be negative'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO k FROM taskforce.api_keys AS x
     WHERE x.tenant_id = tenant AND x.key_id = old_key_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'api key does not exist in tenant "%"', tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    IF k.revoked_at IS NOT NULL THEN
        RAISE EXCEPTION 'api key is revoked'
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF k.expires_at <= pg_catalog.clock_timestamp() THEN
        RAISE EXCEPTION 'api key has expired'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Create a new key instead.';
    END IF;
    IF k.rotated_to IS NOT NULL THEN
        RAISE EXCEPTION 'api key has already been rotated'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Rotate the key that replaced it.';
    END IF;
    u := taskforce._lock_user(tenant, k.user_id);
    IF u.status <> 'active' THEN
        RAISE EXCEPTION 'user "%" is %', u.user_id, u.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    PERFORM taskforce._check_may_manage_user(tenant, u.user_id, false);
    -- The new key must not hand out more than the rotating user holds.
    PERFORM taskforce._check_key_roles(tenant, k.roles, true);
    PERFORM taskforce._check_key_scopes(k.scopes);

    SELECT * INTO n FROM taskforce._insert_api_key(tenant, k.user_id, k.name, k.roles, k.scopes,
                                                   k.expires_at, k.metadata);
    IF overlap = interval '0' THEN
        UPDATE taskforce.api_keys AS x
           SET rotated_to = n.key_id, revoked_at = pg_catalog.now(), revoked_reason = 'rotated'
         WHERE x.tenant_id = tenant AND x.key_id = k.key_id;
    ELSE
        UPDATE taskforce.api_keys AS x
           SET rotated_to = n.key_id,
               expires_at = LEAST(x.expires_at, pg_catalog.now() + overlap)
         WHERE x.tenant_id = tenant AND x.key_id = k.key_id;
    END IF;
    PERFORM taskforce._record_security_event(tenant, k.user_id, 'sql', 'api_key_rotated', 'success',
        NULL, NULL,
        pg_catalog.jsonb_build_object('key_id', k.key_id, 'new_key_id', n.key_id, 'name', k.name,
                                      'overlap', overlap));
    key_id := n.key_id;
    api_key := n.api_key;
    key_prefix := n.key_prefix;
    expires_at := n.expires_at;
    RETURN NEXT;
END
$$;
REVOKE ALL ON FUNCTION taskforce._rotate_api_key(uuid, interval, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._rotate_api_key(uuid, interval, text) IS
    'internal: the body of rotate_api_key';

CREATE FUNCTION taskforce.rotate_api_key(
    key_id uuid, overlap interval DEFAULT '0', tenant_id text DEFAULT NULL)
    RETURNS TABLE (key_id uuid, api_key text, key_prefix text, expires_at timestamptz)
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._rotate_api_key(key_id, overlap, tenant_id)
$$;
COMMENT ON FUNCTION taskforce.rotate_api_key(uuid, interval, text) IS
    'replaces an API key by a new one with the same user, roles, scopes and expiry; the old one is revoked now or expires after overlap; needs user:manage';

SELECT taskforce.enable_tenant_isolation('taskforce.api_keys');
