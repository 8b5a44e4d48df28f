-- src/sql/upgrade/0.2.0--0.3.0-caches.sql: what 0.3.0 changes in 0.2.0's objects for the caches fixes.

-- No NULL elements in the arrays the C caches read.  A NULL pattern,
-- audience or algorithm never meant anything; drop any stored one.
UPDATE taskforce.system_roles SET permissions = pg_catalog.array_remove(permissions, NULL)
 WHERE pg_catalog.array_position(permissions, NULL) IS NOT NULL;
UPDATE taskforce.roles SET permissions = pg_catalog.array_remove(permissions, NULL)
 WHERE pg_catalog.array_position(permissions, NULL) IS NOT NULL;
UPDATE taskforce.jwt_issuers
   SET audiences = pg_catalog.array_remove(audiences, NULL),
       algorithms = pg_catalog.array_remove(algorithms, NULL)
 WHERE pg_catalog.array_position(audiences, NULL) IS NOT NULL
    OR pg_catalog.array_position(algorithms, NULL) IS NOT NULL;
ALTER TABLE taskforce.system_roles ADD CONSTRAINT system_roles_permissions_no_null
    CHECK (pg_catalog.array_position(permissions, NULL) IS NULL);
ALTER TABLE taskforce.roles ADD CONSTRAINT roles_permissions_no_null
    CHECK (pg_catalog.array_position(permissions, NULL) IS NULL);
ALTER TABLE taskforce.jwt_issuers
    ADD CONSTRAINT jwt_issuers_audiences_no_null CHECK (pg_catalog.array_position(audiences, NULL) IS NULL),
    ADD CONSTRAINT jwt_issuers_algorithms_no_null CHECK (pg_catalog.array_position(algorithms, NULL) IS NULL);

CREATE OR REPLACE FUNCTION taskforce._validate_permission_patterns(patterns text[])
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    p text;
BEGIN
    IF patterns IS NULL THEN
        RAISE EXCEPTION 'permissions must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.array_ndims(patterns) > 1 THEN
        RAISE EXCEPTION 'permissions must be a one-dimensional array'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF pg_catalog.array_position(patterns, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'permissions must not contain null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    FOREACH p IN ARRAY patterns LOOP
        IF NOT taskforce.is_permission_pattern(p) THEN
            RAISE EXCEPTION 'invalid permission pattern "%"', p
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Use resource:action, resource:*, *:action or *.';
        END IF;
        IF p !~ '\*' AND NOT EXISTS (SELECT FROM taskforce.permissions AS c WHERE c.permission = p) THEN
            RAISE EXCEPTION 'unknown permission "%"', p
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Register it first with taskforce.register_permission().';
        END IF;
    END LOOP;
END
$$;

CREATE OR REPLACE FUNCTION taskforce.configure_jwt_issuer(
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

CREATE OR REPLACE FUNCTION taskforce.add_jwt_key(
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

-- act_as refuses a deactivated user, whose context would stop at once.
CREATE OR REPLACE FUNCTION taskforce.act_as(
    tenant_id text,
    user_id text,
    roles text[] DEFAULT '{}',
    scope text DEFAULT 'transaction',
    ttl interval DEFAULT NULL)
    RETURNS void
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant_status text;
    user_status text;
BEGIN
    IF tenant_id IS NULL THEN
        RAISE EXCEPTION 'tenant_id must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT t.status INTO tenant_status
      FROM taskforce.tenants AS t WHERE t.tenant_id = act_as.tenant_id;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant_id
            USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    IF tenant_status <> 'active' THEN
        RAISE EXCEPTION 'tenant "%" is %', tenant_id, tenant_status
            USING ERRCODE = 'invalid_authorization_specification',
                  HINT = 'A context can be established only for an active tenant.';
    END IF;
    -- A user need not have a row, but one that has must be active: its
    -- context would stop working at once (see docs/context.md).
    SELECT u.status INTO user_status
      FROM taskforce.users AS u WHERE u.tenant_id = act_as.tenant_id AND u.user_id = act_as.user_id;
    IF user_status <> 'active' THEN
        RAISE EXCEPTION 'user "%" is %', user_id, user_status
            USING ERRCODE = 'invalid_authorization_specification',
                  HINT = 'A context can be established only for an active user.';
    END IF;
    PERFORM taskforce._establish_context(tenant_id, user_id, roles, 'act_as', scope, ttl);
END
$$;
COMMENT ON FUNCTION taskforce.act_as(text, text, text[], text, interval) IS
    'establishes a context for a user of an active tenant (active too, if it has a row in users); for trusted middleware and administrators only';

-- Cache invalidation: row triggers (which a logical replication subscriber
-- fires) and TRUNCATE triggers, ENABLE ALWAYS, in place of 0.2.0's
-- statement triggers; tenants are watched too (context liveness).
COMMENT ON FUNCTION taskforce._invalidate_caches() IS
    'internal: trigger that makes every session drop what it cached from the table';
DROP TRIGGER invalidate_caches ON taskforce.permissions;
DROP TRIGGER invalidate_caches ON taskforce.system_roles;
DROP TRIGGER invalidate_caches ON taskforce.roles;
DROP TRIGGER invalidate_caches ON taskforce.role_grants;
DROP TRIGGER invalidate_caches ON taskforce.users;
DROP TRIGGER invalidate_caches_on_status ON taskforce.users;
DROP TRIGGER invalidate_caches ON taskforce.jwt_issuers;
DROP TRIGGER invalidate_caches ON taskforce.jwt_keys;
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.permissions FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.system_roles FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.roles FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR UPDATE OR DELETE
    ON taskforce.role_grants FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
-- On users and tenants only the identity and the status matter: logins
-- update last_login_at, and must not flush every session's cache.
CREATE TRIGGER invalidate_caches BEFORE INSERT OR DELETE
    ON taskforce.users FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_status BEFORE UPDATE
    ON taskforce.users FOR EACH ROW
    WHEN ((OLD.tenant_id, OLD.user_id, OLD.status) IS DISTINCT FROM (NEW.tenant_id, NEW.user_id, NEW.status))
    EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches BEFORE INSERT OR DELETE
    ON taskforce.tenants FOR EACH ROW EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_status BEFORE UPDATE
    ON taskforce.tenants FOR EACH ROW
    WHEN ((OLD.tenant_id, OLD.status) IS DISTINCT FROM (NEW.tenant_id, NEW.status))
    EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.permissions FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.system_roles FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.roles FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.role_grants FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.users FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
CREATE TRIGGER invalidate_caches_on_truncate AFTER TRUNCATE
    ON taskforce.tenants FOR EACH STATEMENT EXECUTE FUNCTION taskforce._invalidate_caches();
ALTER TABLE taskforce.permissions
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.system_roles
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.roles
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.role_grants
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.users
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_status,
    ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;
ALTER TABLE taskforce.tenants
    ENABLE ALWAYS TRIGGER invalidate_caches, ENABLE ALWAYS TRIGGER invalidate_caches_on_status,
    ENABLE ALWAYS TRIGGER invalidate_caches_on_truncate;

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

