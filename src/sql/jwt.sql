-- src/sql/jwt.sql: JWT issuers, signing keys, verification and login.

-- How tokens of one issuer are checked and mapped to a tenant and user
-- (seed 001's JWTConfig).
CREATE TABLE taskforce.jwt_issuers (
    issuer            text        NOT NULL,
    audiences         text[]      NOT NULL,
    algorithms        text[]      NOT NULL DEFAULT '{RS256}',
    leeway_seconds    integer     NOT NULL DEFAULT 30,
    tenant_claim      text        DEFAULT 'tenant_id',
    tenant_id         text,
    user_claim        text        NOT NULL DEFAULT 'sub',
    roles_claim       text        NOT NULL DEFAULT 'roles',
    username_claim    text        NOT NULL DEFAULT 'preferred_username',
    email_claim       text        NOT NULL DEFAULT 'email',
    trust_token_roles boolean     NOT NULL DEFAULT false,
    provision_users   boolean     NOT NULL DEFAULT false,
    created_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at        timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT jwt_issuers_pkey PRIMARY KEY (issuer),
    CONSTRAINT jwt_issuers_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT jwt_issuers_issuer_present CHECK (issuer <> ''),
    CONSTRAINT jwt_issuers_audiences_present CHECK (pg_catalog.cardinality(audiences) > 0),
    CONSTRAINT jwt_issuers_audiences_no_null CHECK (pg_catalog.array_position(audiences, NULL) IS NULL),
    CONSTRAINT jwt_issuers_algorithms_no_null CHECK (pg_catalog.array_position(algorithms, NULL) IS NULL),
    CONSTRAINT jwt_issuers_algorithms_known
        CHECK (pg_catalog.cardinality(algorithms) > 0
               AND algorithms <@ ARRAY['HS256', 'HS384', 'HS512', 'RS256', 'ES256']),
    CONSTRAINT jwt_issuers_leeway_range CHECK (leeway_seconds BETWEEN 0 AND 300),
    CONSTRAINT jwt_issuers_tenant_source CHECK ((tenant_claim IS NULL) <> (tenant_id IS NULL))
);
COMMENT ON TABLE taskforce.jwt_issuers IS
    'identity providers whose tokens authenticate_jwt accepts, and how their claims map to tenant, user and roles';
SELECT pg_catalog.pg_extension_config_dump('taskforce.jwt_issuers', '');
REVOKE ALL ON taskforce.jwt_issuers FROM PUBLIC;

-- Signing keys, each bound to one issuer and one algorithm.  Several keys of
-- an issuer may be valid at once, so that keys can be rotated.
CREATE TABLE taskforce.jwt_keys (
    kid        text        NOT NULL,
    issuer     text        NOT NULL,
    algorithm  text        NOT NULL,
    secret     bytea,
    public_key text,
    not_before timestamptz NOT NULL DEFAULT pg_catalog.now(),
    not_after  timestamptz,
    created_at timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT jwt_keys_pkey PRIMARY KEY (kid),
    CONSTRAINT jwt_keys_issuer_fkey FOREIGN KEY (issuer)
        REFERENCES taskforce.jwt_issuers (issuer) ON DELETE CASCADE,
    CONSTRAINT jwt_keys_kid_present CHECK (kid <> ''),
    CONSTRAINT jwt_keys_algorithm_known
        CHECK (algorithm IN ('HS256', 'HS384', 'HS512', 'RS256', 'ES256')),
    -- RFC 7518 3.2: an HMAC key at least as long as the hash output.
    CONSTRAINT jwt_keys_material CHECK (
        CASE WHEN algorithm LIKE 'HS%'
             THEN public_key IS NULL AND secret IS NOT NULL
                  AND pg_catalog.length(secret) >= pg_catalog.substr(algorithm, 3)::integer / 8
             ELSE secret IS NULL AND public_key IS NOT NULL END),
    CONSTRAINT jwt_keys_window CHECK (not_after IS NULL OR not_after > not_before)
);
COMMENT ON TABLE taskforce.jwt_keys IS
    'JWT verification keys by kid: HMAC secrets or RSA/EC public keys, with validity windows for rotation; administrators only';
SELECT pg_catalog.pg_extension_config_dump('taskforce.jwt_keys', '');
REVOKE ALL ON taskforce.jwt_keys FROM PUBLIC;

-- As for the permission tables (rbac.sql): a change reaches every
-- session's key cache by its next transaction, also on a replica-role
-- session or a logical replication subscriber.
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.jwt_issuers FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.jwt_keys FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.jwt_issuers FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.jwt_keys FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
ALTER TABLE taskforce.jwt_issuers
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.jwt_keys
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;

CREATE FUNCTION taskforce.configure_jwt_issuer(
    issuer text,
    audiences text[],
    algorithms text[] DEFAULT '{RS256}',
    leeway_seconds integer DEFAULT 30,
    tenant_claim text DEFAULT 'tenant_id',
    tenant_id text DEFAULT NULL,
    user_claim text DEFAULT 'sub',
    roles_claim text DEFAULT 'roles',
    username_claim text DEFAULT 'preferred_username',
    email_claim text DEFAULT 'email',
    trust_token_roles boolean DEFAULT false,
    provision_users boolean DEFAULT false)
    RETURNS taskforce.jwt_issuers
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    i taskforce.jwt_issuers;
    fixed_tenant text := tenant_id;
    claim text := CASE WHEN tenant_id IS NULL THEN tenant_claim END;
BEGIN
    IF issuer IS NULL OR audiences IS NULL OR algorithms IS NULL THEN
        RAISE EXCEPTION 'issuer, audiences and algorithms must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.array_ndims(audiences) > 1 OR pg_catalog.array_ndims(algorithms) > 1 THEN
        RAISE EXCEPTION 'audiences and algorithms must be one-dimensional arrays'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.array_position(audiences, NULL) IS NOT NULL
       OR pg_catalog.array_position(algorithms, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'audiences and algorithms must not contain null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    INSERT INTO taskforce.jwt_issuers AS x (
        issuer, audiences, algorithms, leeway_seconds, tenant_claim, tenant_id,
        user_claim, roles_claim, username_claim, email_claim,
        trust_token_roles, provision_users)
    VALUES (issuer, audiences, algorithms, leeway_seconds, claim, fixed_tenant,
            user_claim, roles_claim, username_claim, email_claim,
            trust_token_roles, provision_users)
    ON CONFLICT ON CONSTRAINT jwt_issuers_pkey DO UPDATE
       SET audiences = excluded.audiences, algorithms = excluded.algorithms,
           leeway_seconds = excluded.leeway_seconds, tenant_claim = excluded.tenant_claim,
           tenant_id = excluded.tenant_id, user_claim = excluded.user_claim,
           roles_claim = excluded.roles_claim, username_claim = excluded.username_claim,
           email_claim = excluded.email_claim, trust_token_roles = excluded.trust_token_roles,
           provision_users = excluded.provision_users, updated_at = pg_catalog.now()
    RETURNING * INTO i;
    RETURN i;
EXCEPTION
    WHEN check_violation OR not_null_violation THEN
        RAISE EXCEPTION 'invalid issuer configuration: %', SQLERRM
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Algorithms are HS256, HS384, HS512, RS256 and ES256; leeway is 0 to 300 seconds; give a tenant claim or a fixed tenant.';
    WHEN foreign_key_violation THEN
        RAISE EXCEPTION 'tenant "%" does not exist', fixed_tenant
            USING ERRCODE = 'undefined_object';
END
$$;
REVOKE ALL ON FUNCTION taskforce.configure_jwt_issuer(text, text[], text[], integer, text, text, text, text, text, text, boolean, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.configure_jwt_issuer(text, text[], text[], integer, text, text, text, text, text, text, boolean, boolean) IS
    'adds or changes a trusted token issuer: audiences, algorithms, leeway and claim mapping; administrators only';

CREATE FUNCTION taskforce.drop_jwt_issuer(issuer text)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    DELETE FROM taskforce.jwt_issuers AS x WHERE x.issuer = drop_jwt_issuer.issuer;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'issuer "%" does not exist', issuer
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce.drop_jwt_issuer(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.drop_jwt_issuer(text) IS
    'removes an issuer and its keys; its tokens stop verifying in every session by the next transaction';

CREATE FUNCTION taskforce._check_jwt_public_key(algorithm text, public_key text)
    RETURNS void
    LANGUAGE C STRICT
    AS 'MODULE_PATHNAME', 'taskforce_check_jwt_public_key';
REVOKE ALL ON FUNCTION taskforce._check_jwt_public_key(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._check_jwt_public_key(text, text) IS
    'internal: invalid_parameter_value unless the PEM key suits the algorithm (RSA >= 2048 bits for RS256, P-256 for ES256)';

CREATE FUNCTION taskforce.add_jwt_key(
    kid text,
    issuer text,
    algorithm text,
    secret bytea DEFAULT NULL,
    public_key text DEFAULT NULL,
    not_before timestamptz DEFAULT pg_catalog.now(),
    not_after timestamptz DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    allowed text[];
BEGIN
    IF kid IS NULL OR issuer IS NULL OR algorithm IS NULL THEN
        RAISE EXCEPTION 'kid, issuer and algorithm must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A key for an algorithm its issuer does not allow would verify no token.
    SELECT i.algorithms INTO allowed FROM taskforce.jwt_issuers AS i
     WHERE i.issuer = add_jwt_key.issuer;
    IF FOUND AND NOT algorithm = ANY (allowed) THEN
        RAISE EXCEPTION 'issuer "%" does not allow algorithm %: it allows %',
                        issuer, algorithm, pg_catalog.array_to_string(allowed, ', ')
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Add a key for one of those algorithms, or allow this one with taskforce.configure_jwt_issuer().';
    END IF;
    IF algorithm IN ('RS256', 'ES256') AND public_key IS NOT NULL THEN
        PERFORM taskforce._check_jwt_public_key(algorithm, public_key);
    END IF;
    INSERT INTO taskforce.jwt_keys (kid, issuer, algorithm, secret, public_key, not_before, not_after)
    VALUES (kid, issuer, algorithm, secret, public_key, coalesce(not_before, pg_catalog.now()), not_after);
EXCEPTION
    WHEN unique_violation THEN
        RAISE EXCEPTION 'key "%" already exists', kid
            USING ERRCODE = 'duplicate_object',
                  HINT = 'Key ids must be unique; rotate by adding a key with a new kid.';
    WHEN foreign_key_violation THEN
        RAISE EXCEPTION 'issuer "%" does not exist', issuer
            USING ERRCODE = 'undefined_object',
                  HINT = 'Configure it first with taskforce.configure_jwt_issuer().';
    WHEN check_violation THEN
        RAISE EXCEPTION 'invalid key "%": %', kid, SQLERRM
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'HS keys take a secret at least as long as the hash (32, 48 or 64 bytes); RS256 and ES256 keys take a PEM public key; not_after must follow not_before.';
END
$$;
REVOKE ALL ON FUNCTION taskforce.add_jwt_key(text, text, text, bytea, text, timestamptz, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.add_jwt_key(text, text, text, bytea, text, timestamptz, timestamptz) IS
    'stores a verification key for an issuer, bound to one algorithm and valid from not_before until not_after; administrators only';

CREATE FUNCTION taskforce.retire_jwt_key(kid text, not_after timestamptz DEFAULT pg_catalog.now())
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    UPDATE taskforce.jwt_keys AS k SET not_after = greatest(retire_jwt_key.not_after, k.not_before + interval '1 microsecond')
     WHERE k.kid = retire_jwt_key.kid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" does not exist', kid
            USING ERRCODE = 'undefined_object';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce.retire_jwt_key(text, timestamptz) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.retire_jwt_key(text, timestamptz) IS
    'ends a key''s validity at not_after (now by default): the last step of a rotation; administrators only';

CREATE FUNCTION taskforce._mint_jwt(header text, payload text, secret bytea, algorithm text)
    RETURNS text
    LANGUAGE C STRICT
    AS 'MODULE_PATHNAME', 'taskforce_mint_jwt';
REVOKE ALL ON FUNCTION taskforce._mint_jwt(text, text, bytea, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._mint_jwt(text, text, bytea, text) IS
    'internal: encodes and HMAC-signs a token';

CREATE FUNCTION taskforce.mint_jwt(claims jsonb, kid text, ttl interval DEFAULT '1 hour')
    RETURNS text
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    k taskforce.jwt_keys;
    now_epoch bigint := pg_catalog.floor(pg_catalog.date_part('epoch', pg_catalog.clock_timestamp()));
    payload jsonb;
BEGIN
    IF claims IS NULL OR jsonb_typeof(claims) <> 'object' THEN
        RAISE EXCEPTION 'claims must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT * INTO k FROM taskforce.jwt_keys AS x WHERE x.kid = mint_jwt.kid;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'key "%" does not exist', kid
            USING ERRCODE = 'undefined_object';
    END IF;
    IF k.secret IS NULL THEN
        RAISE EXCEPTION 'key "%" is a % public key and cannot sign', kid, k.algorithm
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'mint_jwt signs with HS256, HS384 or HS512 keys only.';
    END IF;
    payload := jsonb_build_object('iss', k.issuer, 'iat', now_epoch,
                                  'exp', now_epoch + pg_catalog.floor(pg_catalog.date_part('epoch', ttl))::bigint)
               || claims;
    RETURN taskforce._mint_jwt(
        jsonb_build_object('alg', k.algorithm, 'typ', 'JWT', 'kid', k.kid)::text,
        payload::text, k.secret, k.algorithm);
END
$$;
REVOKE ALL ON FUNCTION taskforce.mint_jwt(jsonb, text, interval) FROM PUBLIC;
COMMENT ON FUNCTION taskforce.mint_jwt(jsonb, text, interval) IS
    'signs a token with an HS key, adding iss, iat and exp unless the claims give them; for development and tests; administrators only';

CREATE FUNCTION taskforce.verify_jwt(token text)
    RETURNS jsonb
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'taskforce_verify_jwt';
COMMENT ON FUNCTION taskforce.verify_jwt(text) IS
    'the claims of a token whose signature, issuer, audience and times verify; invalid_authorization_specification otherwise';

CREATE FUNCTION taskforce._jwt_identity(
    token text,
    OUT verified boolean,
    OUT failure text,
    OUT issuer text,
    OUT kid text,
    OUT tenant_id text,
    OUT user_id text,
    OUT roles text[],
    OUT username text,
    OUT email text,
    OUT expires_at timestamptz,
    OUT provision_users boolean,
    OUT trust_token_roles boolean)
    LANGUAGE C STABLE STRICT
    AS 'MODULE_PATHNAME', 'taskforce_jwt_identity';
REVOKE ALL ON FUNCTION taskforce._jwt_identity(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._jwt_identity(text) IS
    'internal: verifies a token and maps its claims to tenant, user and roles, returning the failure instead of raising it';

-- Every case of authenticate_jwt the C fast path (src/auth/bearer.c) does
-- not take: a token that fails (its reason is recorded), a user to
-- provision, roles claimed by the token, a tenant or user not active.
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

-- Callers pass the token as a bind parameter, never in the query text.
-- Executable by PUBLIC (the default): the token is the credential.  The
-- common case runs in C and writes nothing (src/auth/bearer.c); the rest
-- goes to _authenticate_jwt.
CREATE FUNCTION taskforce.authenticate_jwt(
    token text,
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL,
    client_addr inet DEFAULT NULL)
    RETURNS void
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_authenticate_jwt';
COMMENT ON FUNCTION taskforce.authenticate_jwt(text, text, interval, inet) IS
    'verifies a JWT and establishes the context of its tenant and user; pass the token as a bind parameter';
