-- src/sql/catalog.sql: (issue 11; the shared design is spec/LIFE_SPEC.md).

-- Publishing (and deprecating, archiving) agent versions.  Designers
-- publish; with an agent_publish workflow in place, approval also needs an
-- approved request (approvals.sql).
INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('agent:publish', 'approve, publish, deprecate and archive agent versions', true);
UPDATE taskforce.system_roles
   SET permissions = permissions || ARRAY['agent:publish']
 WHERE role_name = 'agent_designer';


-- Semantic versions (src/lifecycle/semver.c) and definition hashes
-- (src/lifecycle/config_hash.c): plain values, usable on any table.
CREATE FUNCTION taskforce.semver_key(version text) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_semver_key';
COMMENT ON FUNCTION taskforce.semver_key(text) IS
    'a byte string whose order is SemVer 2.0.0 precedence (build metadata ignored); invalid_parameter_value for an invalid version';

CREATE FUNCTION taskforce.semver_compare(a text, b text) RETURNS integer
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_semver_compare';
COMMENT ON FUNCTION taskforce.semver_compare(text, text) IS
    '-1, 0 or 1 as version a has lower, equal or higher SemVer 2.0.0 precedence than b';

CREATE FUNCTION taskforce.config_hash(definition jsonb) RETURNS bytea
    LANGUAGE C IMMUTABLE STRICT PARALLEL SAFE
    AS 'MODULE_PATHNAME', 'taskforce_config_hash';
COMMENT ON FUNCTION taskforce.config_hash(jsonb) IS
    'SHA-256 of a canonical encoding of the jsonb: equal for definitions jsonb holds equal (key order, whitespace, duplicate keys, number scale)';
