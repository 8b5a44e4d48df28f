-- jwt: verifying tokens of every supported algorithm, logging in with them as
-- the application role, and every way a token is refused.  Signed fixtures
-- (RS256, ES256 and the hostile ones) come from test/fixtures/jwt/; HS tokens
-- are minted here.  Tokens live in psql variables, so no generated token,
-- timestamp or id reaches the expected output.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS jwt_app;
CREATE ROLE jwt_app LOGIN IN ROLE taskforce_app;
-- Only the events this suite causes are shown at the end.
SELECT coalesce(max(event_id), 0) AS events_before FROM taskforce.security_events \gset

-- Tenant jwt-acme: alice (operator) and mallory (deactivated); a suspended
-- tenant; and tenant acme with alice, which the fixture tokens name.
SELECT tenant_id, plan, status FROM taskforce.create_tenant('jwt-acme', 'Acme', 'enterprise');
SELECT tenant_id, user_id, username, status
  FROM taskforce.create_user('alice', 'alice', 'alice@jwt-acme.example', tenant_id => 'jwt-acme');
SELECT user_id, role_name FROM taskforce.grant_role('alice', 'operator', tenant_id => 'jwt-acme');
SELECT user_id, status FROM taskforce.create_user('mallory', 'mallory', tenant_id => 'jwt-acme');
SELECT user_id, status FROM taskforce.deactivate_user('mallory', 'left the company', 'jwt-acme');
SELECT tenant_id, status FROM taskforce.create_tenant('jwt-gone', 'Gone');
SELECT user_id FROM taskforce.create_user('alice', 'alice', tenant_id => 'jwt-gone');
SELECT tenant_id, status FROM taskforce.suspend_tenant('jwt-gone', 'unpaid');
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM taskforce.tenants WHERE tenant_id = 'acme') THEN
        PERFORM taskforce.create_tenant('acme', 'Acme Corp');
    END IF;
    IF NOT EXISTS (SELECT FROM taskforce.users WHERE tenant_id = 'acme' AND user_id = 'alice') THEN
        PERFORM taskforce.create_user('alice', 'alice', tenant_id => 'acme');
    END IF;
    PERFORM taskforce.grant_role('alice', 'operator', tenant_id => 'acme');
END
$$;
RESET client_min_messages;

-- The issuer, and one key per algorithm.  HS secrets are as long as their
-- hash; the public keys are the fixtures'.
DELETE FROM taskforce.jwt_issuers WHERE issuer IN ('https://idp.example.com', 'https://fixed.example.com');
SELECT issuer, audiences, algorithms, leeway_seconds, tenant_claim, tenant_id,
       user_claim, roles_claim, trust_token_roles, provision_users
  FROM taskforce.configure_jwt_issuer('https://idp.example.com', '{taskforce-api}',
                                      '{HS256,HS384,HS512,RS256,ES256}',
                                      tenant_claim => 'tenant_id');
\set rsapub `cat test/fixtures/jwt/rs256_public.pem`
\set ecpub `cat test/fixtures/jwt/es256_public.pem`
SELECT taskforce.add_jwt_key('hs256', 'https://idp.example.com', 'HS256', sha256('jwt hs256'));
SELECT taskforce.add_jwt_key('hs384', 'https://idp.example.com', 'HS384', sha384('jwt hs384'));
SELECT taskforce.add_jwt_key('hs512', 'https://idp.example.com', 'HS512', sha512('jwt hs512'));
SELECT taskforce.add_jwt_key('rsa-2026', 'https://idp.example.com', 'RS256', public_key => :'rsapub');
SELECT taskforce.add_jwt_key('ec-2026', 'https://idp.example.com', 'ES256', public_key => :'ecpub');
SELECT kid, algorithm, octet_length(secret) AS secret_bytes, public_key IS NOT NULL AS has_public_key,
       not_after IS NULL AS open_ended
  FROM taskforce.jwt_keys WHERE issuer = 'https://idp.example.com' ORDER BY kid;

-- Keys that do not fit their algorithm are refused.
SELECT taskforce.add_jwt_key('short', 'https://idp.example.com', 'HS256', sha224('too short'));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.add_jwt_key('hs-with-pem', 'https://idp.example.com', 'HS256', public_key => :'rsapub');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.add_jwt_key('ec-with-rsa', 'https://idp.example.com', 'ES256', public_key => :'rsapub');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.add_jwt_key('rs-garbage', 'https://idp.example.com', 'RS256', public_key => 'not a key');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.add_jwt_key('hs256', 'https://idp.example.com', 'HS256', sha256('again'));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.add_jwt_key('orphan', 'https://nobody.example.com', 'HS256', sha256('x'));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.configure_jwt_issuer('https://idp.example.com', '{taskforce-api}', '{PS256}');
\echo :LAST_ERROR_SQLSTATE

-- The fixtures: name<TAB>token.
\set rs256_valid `awk -F '\t' '$1 == "rs256_valid" { print $2 }' test/fixtures/jwt/vectors.txt`
\set es256_valid `awk -F '\t' '$1 == "es256_valid" { print $2 }' test/fixtures/jwt/vectors.txt`
\set rs256_bad_signature `awk -F '\t' '$1 == "rs256_bad_signature" { print $2 }' test/fixtures/jwt/vectors.txt`
\set rs256_expired `awk -F '\t' '$1 == "rs256_expired" { print $2 }' test/fixtures/jwt/vectors.txt`
\set hs256_keyed_with_rs256_public_key `awk -F '\t' '$1 == "hs256_keyed_with_rs256_public_key" { print $2 }' test/fixtures/jwt/vectors.txt`
\set none_alg `awk -F '\t' '$1 == "none_alg" { print $2 }' test/fixtures/jwt/vectors.txt`
SELECT length(:'rs256_valid') > 0 AND length(:'es256_valid') > 0 AND length(:'rs256_bad_signature') > 0
       AND length(:'rs256_expired') > 0 AND length(:'hs256_keyed_with_rs256_public_key') > 0
       AND length(:'none_alg') > 0 AS fixtures_loaded;

-- Tokens minted here (administrators only), kept in psql variables.  The
-- hand-made ones are signed with the internal _mint_jwt, which encodes any
-- header and payload text as given.
CREATE FUNCTION pg_temp.b64url(t text) RETURNS text LANGUAGE sql
    AS $$ SELECT translate(encode(convert_to(t, 'UTF8'), 'base64'), E'+/=\n', '-_') $$;
CREATE FUNCTION pg_temp.epoch(i interval) RETURNS bigint LANGUAGE sql
    AS $$ SELECT floor(extract(epoch FROM clock_timestamp() + i))::bigint $$;
CREATE FUNCTION pg_temp.alice(extra jsonb DEFAULT '{}') RETURNS jsonb LANGUAGE sql
    AS $$ SELECT '{"sub": "alice", "tenant_id": "jwt-acme", "aud": "taskforce-api"}'::jsonb || extra $$;
CREATE FUNCTION pg_temp.signed(header text, payload text) RETURNS text LANGUAGE sql
    AS $$ SELECT taskforce._mint_jwt(header, payload,
                                     (SELECT secret FROM taskforce.jwt_keys WHERE kid = 'hs256'), 'HS256') $$;
SELECT taskforce.mint_jwt(pg_temp.alice(), 'hs256') AS hs256,
       taskforce.mint_jwt(pg_temp.alice(), 'hs384') AS hs384,
       taskforce.mint_jwt(pg_temp.alice(), 'hs512') AS hs512,
       taskforce.mint_jwt(pg_temp.alice(), 'hs256', '5 minutes') AS hs256_5min,
       taskforce.mint_jwt(pg_temp.alice('{"aud": ["other-api", "taskforce-api"]}'), 'hs256') AS aud_list,
       taskforce.mint_jwt(pg_temp.alice(jsonb_build_object('exp', pg_temp.epoch('-10 seconds'))), 'hs256') AS within_leeway,
       taskforce.mint_jwt(pg_temp.alice(jsonb_build_object('exp', pg_temp.epoch('-1 minute'))), 'hs256') AS expired,
       taskforce.mint_jwt(pg_temp.alice('{"exp": 1000000000}'), 'hs256') AS expired_long_ago,
       taskforce.mint_jwt(pg_temp.alice('{"nbf": 4000000000}'), 'hs256') AS not_yet_valid,
       taskforce.mint_jwt(pg_temp.alice('{"iat": 4000000000}'), 'hs256') AS issued_in_future,
       taskforce.mint_jwt(pg_temp.alice('{"exp": null}'), 'hs256') AS exp_null,
       taskforce.mint_jwt(pg_temp.alice('{"exp": "tomorrow"}'), 'hs256') AS exp_string,
       taskforce.mint_jwt(pg_temp.alice('{"exp": 1e300}'), 'hs256') AS exp_huge,
       taskforce.mint_jwt(pg_temp.alice('{"sub": "eve", "email": "not-an-email"}'), 'hs256') AS bad_email_newcomer,
       taskforce.mint_jwt(pg_temp.alice('{"iss": "https://evil.example.com"}'), 'hs256') AS wrong_iss,
       taskforce.mint_jwt(pg_temp.alice('{"iss": "https://fixed.example.com"}'), 'hs256') AS other_iss,
       taskforce.mint_jwt(pg_temp.alice('{"aud": "other-api"}'), 'hs256') AS wrong_aud,
       taskforce.mint_jwt(pg_temp.alice('{"aud": [1, 2]}'), 'hs256') AS aud_not_strings,
       taskforce.mint_jwt(pg_temp.alice() - 'aud', 'hs256') AS missing_aud,
       taskforce.mint_jwt(pg_temp.alice(jsonb_build_object('pad', repeat('x', 9000))), 'hs256') AS oversized,
       taskforce.mint_jwt(pg_temp.alice('{"sub": "mallory"}'), 'hs256') AS deactivated_user,
       taskforce.mint_jwt(pg_temp.alice('{"sub": "nobody"}'), 'hs256') AS unknown_user,
       taskforce.mint_jwt(pg_temp.alice() - 'tenant_id', 'hs256') AS no_tenant,
       taskforce.mint_jwt(pg_temp.alice('{"tenant_id": 42}'), 'hs256') AS tenant_not_string,
       taskforce.mint_jwt(pg_temp.alice() - 'sub', 'hs256') AS no_sub,
       taskforce.mint_jwt(pg_temp.alice('{"tenant_id": "jwt-nowhere"}'), 'hs256') AS unknown_tenant,
       taskforce.mint_jwt(pg_temp.alice('{"tenant_id": "jwt-gone"}'), 'hs256') AS suspended_tenant,
       taskforce.mint_jwt(pg_temp.alice('{"roles": ["admin", "auditor", "no-such-role"]}'), 'hs256') AS with_roles,
       taskforce.mint_jwt(pg_temp.alice('{"sub": "newbie", "preferred_username": "newbie", "email": "newbie@jwt-acme.example"}'), 'hs256') AS newbie,
       taskforce.mint_jwt(pg_temp.alice('{"sub": "ghost", "tenant_id": "jwt-nowhere"}'), 'hs256') AS ghost
\gset
SELECT pg_temp.signed('{"alg":"HS256","typ":"JWT","kid":"hs256"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","iat":%s}',
                  pg_temp.epoch('0'))) AS missing_exp,
       pg_temp.signed('{"alg":"HS256","typ":"JWT","kid":"hs256"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"mallory","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour'))) AS duplicate_claim,
       pg_temp.signed('{"alg":"HS256","alg":"none","typ":"JWT","kid":"hs256"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour'))) AS duplicate_header,
       pg_temp.signed('{"alg":"HS256","typ":"JWT","kid":"hs256","crit":["exp"]}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour'))) AS crit_header,
       pg_temp.signed('{"alg":"HS256","typ":"JWT","kid":"hs256"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s,"deep":%s%s}',
                  pg_temp.epoch('1 hour'), repeat('[', 40), repeat(']', 40))) AS too_deep,
       pg_temp.signed('{"alg":"HS256","typ":"JWT","kid":"no-such-kid"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour'))) AS unknown_kid,
       pg_temp.signed('{"alg":"HS256","typ":"JWT"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour'))) AS missing_kid,
       -- RS256 and ES256 headers naming an HMAC key, and ES256 naming the RSA key.
       pg_temp.signed('{"alg":"RS256","typ":"JWT","kid":"hs256"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour'))) AS rs256_header_hs_kid,
       pg_temp.signed('{"alg":"ES256","typ":"JWT","kid":"rsa-2026"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour'))) AS es256_header_rsa_kid,
       -- HMAC keyed with the RSA public key as stored, the classic confusion attack.
       taskforce._mint_jwt('{"alg":"HS256","typ":"JWT","kid":"rsa-2026"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour')),
           (SELECT convert_to(public_key, 'UTF8') FROM taskforce.jwt_keys WHERE kid = 'rsa-2026'), 'HS256') AS hs256_keyed_with_stored_pem,
       -- Right header and claims, wrong secret.
       taskforce._mint_jwt('{"alg":"HS256","typ":"JWT","kid":"hs256"}',
           format('{"iss":"https://idp.example.com","aud":"taskforce-api","sub":"alice","tenant_id":"jwt-acme","exp":%s}',
                  pg_temp.epoch('1 hour')),
           sha256('guessed'), 'HS256') AS hs256_wrong_secret,
       -- alg none with a non-empty signature, and other spellings of none.
       pg_temp.b64url('{"alg":"none","typ":"JWT"}') || '.' || split_part(:'none_alg', '.', 2) || '.c2ln' AS none_signed,
       pg_temp.b64url('{"alg":"NONE","typ":"JWT","kid":"hs256"}') || '.' || split_part(:'none_alg', '.', 2) || '.c2ln' AS none_upper,
       pg_temp.b64url('{"alg":"hs256","typ":"JWT","kid":"hs256"}') || '.' || split_part(:'none_alg', '.', 2) || '.c2ln' AS alg_lower_case
\gset

-- Key rotation and validity windows are tested with keys of their own.
SELECT taskforce.add_jwt_key('hs256-future', 'https://idp.example.com', 'HS256', sha256('jwt future'),
                             not_before => now() + interval '1 day');
SELECT taskforce.add_jwt_key('hs256-retired', 'https://idp.example.com', 'HS256', sha256('jwt retired'));
SELECT taskforce.mint_jwt(pg_temp.alice(), 'hs256-future') AS future_key,
       taskforce.mint_jwt(pg_temp.alice(), 'hs256-retired') AS retired_key
\gset
SELECT taskforce.retire_jwt_key('hs256-retired');
SELECT kid, not_after IS NOT NULL AS retired, not_before > now() AS not_yet_valid
  FROM taskforce.jwt_keys WHERE kid LIKE 'hs256-%' ORDER BY kid;

-- An issuer whose tenant is fixed: the token cannot choose it.
SELECT issuer, tenant_claim, tenant_id
  FROM taskforce.configure_jwt_issuer('https://fixed.example.com', '{taskforce-api}', '{HS256}',
                                      tenant_id => 'jwt-acme');
SELECT taskforce.add_jwt_key('hs256-fixed', 'https://fixed.example.com', 'HS256', sha256('jwt fixed'));
SELECT taskforce.mint_jwt('{"sub": "alice", "tenant_id": "acme", "aud": "taskforce-api"}', 'hs256-fixed') AS fixed_tenant
\gset

--
-- Everything below runs as the application role.
--
\c - jwt_app

-- Every algorithm verifies: HS256, HS384 and HS512 minted here, RS256 and
-- ES256 from the fixtures.
SELECT v->>'iss' AS iss, v->>'sub' AS sub, v->>'tenant_id' AS tenant, v->>'aud' AS aud,
       (v->>'exp')::bigint - (v->>'iat')::bigint AS lifetime_seconds
  FROM (VALUES ('HS256', taskforce.verify_jwt(:'hs256')),
               ('HS384', taskforce.verify_jwt(:'hs384')),
               ('HS512', taskforce.verify_jwt(:'hs512'))) AS t(alg, v)
 ORDER BY alg;
SELECT alg, v->>'iss' AS iss, v->>'sub' AS sub, v->>'tenant_id' AS tenant, v->>'aud' AS aud,
       v->'roles' AS roles, v->>'email' AS email
  FROM (VALUES ('RS256', taskforce.verify_jwt(:'rs256_valid')),
               ('ES256', taskforce.verify_jwt(:'es256_valid'))) AS t(alg, v)
 ORDER BY alg;
-- An audience list needs to contain one of the issuer's audiences; exp may
-- be up to leeway_seconds (30) in the past.
SELECT taskforce.verify_jwt(:'aud_list')->'aud' AS aud_list;
SELECT taskforce.verify_jwt(:'within_leeway')->>'sub' AS within_leeway;

-- Logging in: the context is the token's tenant and user, with the roles
-- granted to that user (the token's roles claim is not trusted by default).
SELECT * FROM taskforce.current_context();
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs256');
SELECT tenant_id, user_id, roles, auth_method, scope, established_by FROM taskforce.current_context();
SELECT taskforce.has_permission('agent:execute') AS agent_execute,
       taskforce.has_permission('agent:create') AS agent_create;
SELECT role_name, source FROM taskforce.effective_roles();
-- Logging in wrote nothing: the login's event (and last_login_at) is queued.
SELECT pg_current_xact_id_if_assigned() IS NULL AS wrote_nothing;
COMMIT;
SELECT taskforce.current_tenant() IS NULL AS gone_after_commit;
-- Each algorithm logs in.
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs384');
SELECT tenant_id, user_id, auth_method FROM taskforce.current_context();
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs512');
SELECT tenant_id, user_id, auth_method FROM taskforce.current_context();
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_jwt(:'rs256_valid');
SELECT tenant_id, user_id, roles, auth_method FROM taskforce.current_context();
SELECT taskforce.has_permission('agent:execute') AS agent_execute;
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_jwt(:'es256_valid');
SELECT tenant_id, user_id, roles, auth_method FROM taskforce.current_context();
SELECT taskforce.has_permission('agent:execute') AS agent_execute;
ROLLBACK;
-- The context never outlives the token: a 5-minute token gives at most
-- 5 minutes plus the leeway, whatever ttl is asked for.
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs256_5min', ttl => '1 hour');
SELECT expires_at - established_at <= interval '5 minutes 30 seconds' AS bounded_by_token,
       expires_at - established_at > interval '4 minutes' AS close_to_token
  FROM taskforce.current_context();
ROLLBACK;
-- A shorter ttl is honoured.
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs256', ttl => '2 minutes');
SELECT expires_at - established_at AS lifetime FROM taskforce.current_context();
ROLLBACK;
-- With a fixed-tenant issuer the tenant_id claim is ignored.
BEGIN;
SELECT taskforce.authenticate_jwt(:'fixed_tenant');
SELECT tenant_id, user_id, auth_method FROM taskforce.current_context();
ROLLBACK;

-- Refusals.  Each is invalid_authorization_specification (28000) with the
-- reason; authenticate_jwt also records it (shown at the end).
-- alg none: with an empty signature the token does not even parse; with a
-- signature it is refused by name; other spellings are unknown algorithms.
SELECT taskforce.authenticate_jwt(:'none_alg');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'none_signed');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'none_upper');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'alg_lower_case');
\echo :LAST_ERROR_SQLSTATE
-- Algorithm confusion: an HS256 token keyed with the RSA public key, from the
-- fixture and as stored; RS256 and ES256 headers naming keys of another kind.
SELECT taskforce.authenticate_jwt(:'hs256_keyed_with_rs256_public_key');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'hs256_keyed_with_stored_pem');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'rs256_header_hs_kid');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'es256_header_rsa_kid');
\echo :LAST_ERROR_SQLSTATE
-- Times: expired (just past the leeway, long ago, and the RS256 fixture),
-- not yet valid, issued in the future, no exp, exp not a number.
SELECT taskforce.authenticate_jwt(:'expired');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'expired_long_ago');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'rs256_expired');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'not_yet_valid');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'issued_in_future');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'missing_exp');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'exp_null');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'exp_string');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'exp_huge');
\echo :LAST_ERROR_SQLSTATE
-- Issuer and audience: a key signs only for its own issuer.
SELECT taskforce.authenticate_jwt(:'wrong_iss');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'other_iss');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'wrong_aud');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'aud_not_strings');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'missing_aud');
\echo :LAST_ERROR_SQLSTATE
-- Malformed: not base64url ('+', padding), truncated (5 characters off
-- leave no valid base64url; 2 off leave a shorter, wrong signature), no
-- signature part, whitespace, a "Bearer " prefix, too long, too deep,
-- duplicate members, crit, empty, null.
SELECT taskforce.authenticate_jwt(regexp_replace(:'rs256_valid', '\.(.)', '.+'));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'rs256_valid' || '=');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(left(:'rs256_valid', -5));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(left(:'rs256_valid', -2));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(split_part(:'rs256_valid', '.', 1) || '.' || split_part(:'rs256_valid', '.', 2));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(split_part(:'rs256_valid', '.', 1) || '.' || split_part(:'rs256_valid', '.', 2) || '.');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'rs256_valid' || E'\n');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt('Bearer ' || :'rs256_valid');
\echo :LAST_ERROR_SQLSTATE
SELECT length(:'oversized') > 8192 AS oversized;
SELECT taskforce.authenticate_jwt(:'oversized');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'too_deep');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'duplicate_claim');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'duplicate_header');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'crit_header');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt('');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(NULL);
\echo :LAST_ERROR_SQLSTATE
-- Keys: unknown kid, no kid, bad signature (fixture signed with another RSA
-- key; ES256 with r = s = 0, and one byte short; HS256 with a guessed
-- secret), a key not yet valid, a retired key.
SELECT taskforce.authenticate_jwt(:'unknown_kid');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'missing_kid');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'rs256_bad_signature');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(split_part(:'es256_valid', '.', 1) || '.' || split_part(:'es256_valid', '.', 2)
                                  || '.' || repeat('A', 86));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(left(:'es256_valid', -2));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'hs256_wrong_secret');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'future_key');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'retired_key');
\echo :LAST_ERROR_SQLSTATE
-- Identity: a deactivated user, an unknown user, no tenant claim, a tenant
-- claim that is not a string, no sub, an unknown tenant, a suspended tenant.
SELECT taskforce.authenticate_jwt(:'deactivated_user');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'unknown_user');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'no_tenant');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'tenant_not_string');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'no_sub');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'unknown_tenant');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'suspended_tenant');
\echo :LAST_ERROR_SQLSTATE
-- verify_jwt refuses the same way (and records nothing).
SELECT taskforce.verify_jwt(:'expired');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.verify_jwt(:'hs256_keyed_with_rs256_public_key');
\echo :LAST_ERROR_SQLSTATE
-- A bad scope is refused after the token verified.
SELECT taskforce.authenticate_jwt(:'hs256', scope => 'forever');
\echo :LAST_ERROR_SQLSTATE

-- A failed login aborts the transaction: the context it had is gone with
-- it, and after ROLLBACK the session is as it was before BEGIN.
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs256');
SELECT taskforce.current_tenant(), taskforce.current_user_id();
SELECT taskforce.authenticate_jwt(:'deactivated_user');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.current_tenant();
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT taskforce.current_tenant() IS NULL AS no_context_after_rollback;
-- A session-scoped context survives a failed login in a later transaction,
-- and a failed login in a subtransaction leaves the transaction's context.
SELECT taskforce.authenticate_jwt(:'rs256_valid', scope => 'session');
SELECT tenant_id, user_id, scope FROM taskforce.current_context();
BEGIN;
SELECT taskforce.authenticate_jwt(:'expired');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT tenant_id, user_id, scope FROM taskforce.current_context();
SELECT taskforce.authenticate_jwt(:'wrong_aud', scope => 'session');
\echo :LAST_ERROR_SQLSTATE
SELECT tenant_id, user_id, scope FROM taskforce.current_context();
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs256');
SAVEPOINT attempt;
SELECT taskforce.authenticate_jwt(:'unknown_user');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO SAVEPOINT attempt;
SELECT tenant_id, user_id, scope FROM taskforce.current_context();
COMMIT;
SELECT tenant_id, user_id, scope FROM taskforce.current_context();
SELECT taskforce.clear_context();

-- Administration is closed to the application role.
SELECT count(*) FROM taskforce.jwt_keys;
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM taskforce.jwt_issuers;
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.mint_jwt(pg_catalog.jsonb_build_object('sub', 'alice'), 'hs256');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce._mint_jwt('{"alg":"HS256","kid":"hs256"}', '{}', '\x00', 'HS256');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.add_jwt_key('mine', 'https://idp.example.com', 'HS256', sha256('mine'));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.retire_jwt_key('hs256');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.configure_jwt_issuer('https://evil.example.com', '{taskforce-api}', '{HS256}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.drop_jwt_issuer('https://idp.example.com');
\echo :LAST_ERROR_SQLSTATE
SELECT * FROM taskforce._jwt_identity(:'hs256');
\echo :LAST_ERROR_SQLSTATE
SELECT count(*) FROM taskforce.security_events;
\echo :LAST_ERROR_SQLSTATE

-- An administrator that is not a superuser (a member of taskforce_admin)
-- manages issuers and keys, and mints development tokens.
\c - postgres
DROP ROLE IF EXISTS jwt_admin;
CREATE ROLE jwt_admin LOGIN IN ROLE taskforce_admin;
\c - jwt_admin
SELECT issuer, algorithms FROM taskforce.configure_jwt_issuer('https://admin.example.com', '{taskforce-api}', '{HS256}');
SELECT taskforce.add_jwt_key('admin-hs', 'https://admin.example.com', 'HS256', sha256('admin key'));
SELECT kid, issuer, algorithm FROM taskforce.jwt_keys WHERE kid = 'admin-hs';
SELECT taskforce.verify_jwt(taskforce.mint_jwt('{"sub": "alice", "tenant_id": "jwt-acme", "aud": "taskforce-api"}', 'admin-hs'))->>'sub' AS sub;
SELECT taskforce.retire_jwt_key('admin-hs');
SELECT taskforce.drop_jwt_issuer('https://admin.example.com');
SELECT count(*) AS keys_left FROM taskforce.jwt_keys WHERE kid = 'admin-hs';

--
-- Issuer settings, changed by the superuser between logins.
--
\c - postgres
-- An algorithm the issuer no longer allows.
SELECT algorithms FROM taskforce.configure_jwt_issuer('https://idp.example.com', '{taskforce-api}',
    '{HS256,HS384,RS256,ES256}', tenant_claim => 'tenant_id');
\c - jwt_app
SELECT taskforce.authenticate_jwt(:'hs512');
\echo :LAST_ERROR_SQLSTATE
-- Roles in the token are ignored while trust_token_roles is false ...
BEGIN;
SELECT taskforce.authenticate_jwt(:'with_roles');
SELECT taskforce.current_roles();
SELECT role_name, source FROM taskforce.effective_roles();
SELECT taskforce.has_permission('audit:read') AS audit_read;
ROLLBACK;
\c - postgres
SELECT trust_token_roles FROM taskforce.configure_jwt_issuer('https://idp.example.com', '{taskforce-api}',
    '{HS256,HS384,HS512,RS256,ES256}', tenant_claim => 'tenant_id', trust_token_roles => true);
\c - jwt_app
-- ... and asserted when it is true: those that exist, on top of the grants.
BEGIN;
SELECT taskforce.authenticate_jwt(:'with_roles');
SELECT taskforce.current_roles();
SELECT role_name, source FROM taskforce.effective_roles();
SELECT taskforce.has_permission('audit:read') AS audit_read;
ROLLBACK;
-- Unknown users are refused while provision_users is false ...
SELECT taskforce.authenticate_jwt(:'newbie');
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SELECT provision_users FROM taskforce.configure_jwt_issuer('https://idp.example.com', '{taskforce-api}',
    '{HS256,HS384,HS512,RS256,ES256}', tenant_claim => 'tenant_id', provision_users => true);
SELECT count(*) AS newbie_before FROM taskforce.users WHERE tenant_id = 'jwt-acme' AND user_id = 'newbie';
\c - jwt_app
-- ... and created on their first login when it is true, with no roles.
BEGIN;
SELECT taskforce.authenticate_jwt(:'newbie');
SELECT tenant_id, user_id, roles, auth_method FROM taskforce.current_context();
SELECT taskforce.has_permission('agent:read') AS agent_read;
COMMIT;
BEGIN;
SELECT taskforce.authenticate_jwt(:'newbie');
SELECT tenant_id, user_id FROM taskforce.current_context();
COMMIT;
-- Provisioning does not create tenants, nor revive deactivated users.
SELECT taskforce.authenticate_jwt(:'ghost');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.authenticate_jwt(:'deactivated_user');
\echo :LAST_ERROR_SQLSTATE
-- Claims that break the rules for users provision nothing and fail as
-- an authentication (recorded), not as a constraint violation.
SELECT taskforce.authenticate_jwt(:'bad_email_newcomer');
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SELECT tenant_id, user_id, username, email, kind, status
  FROM taskforce.users WHERE user_id IN ('newbie', 'ghost', 'mallory', 'eve') ORDER BY tenant_id, user_id;
SELECT issuer FROM taskforce.configure_jwt_issuer('https://idp.example.com', '{taskforce-api}',
    '{HS256,HS384,HS512,RS256,ES256}', tenant_claim => 'tenant_id');

-- Key rotation: a second key of the issuer is valid alongside the first;
-- once the first is retired its tokens fail and the new key's still work.
SELECT taskforce.add_jwt_key('hs256-2027', 'https://idp.example.com', 'HS256', sha256('jwt hs256 2027'));
SELECT taskforce.mint_jwt('{"sub": "alice", "tenant_id": "jwt-acme", "aud": "taskforce-api"}', 'hs256-2027') AS hs256_new
\gset
\c - jwt_app
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs256');
SELECT taskforce.current_user_id() AS old_key;
ROLLBACK;
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs256_new');
SELECT taskforce.current_user_id() AS new_key;
ROLLBACK;
\c - postgres
-- This session has the keys cached now; the retirement reaches the cache by
-- the next statement.
SELECT taskforce.verify_jwt(:'hs256')->>'sub' AS before_retiring;
SELECT taskforce.retire_jwt_key('hs256');
SELECT kid, not_after IS NOT NULL AS retired FROM taskforce.jwt_keys WHERE kid IN ('hs256', 'hs256-2027') ORDER BY kid;
SELECT taskforce.verify_jwt(:'hs256')->>'sub' AS after_retiring;
\echo :LAST_ERROR_SQLSTATE
\c - jwt_app
SELECT taskforce.authenticate_jwt(:'hs256');
\echo :LAST_ERROR_SQLSTATE
BEGIN;
SELECT taskforce.authenticate_jwt(:'hs256_new');
SELECT tenant_id, user_id FROM taskforce.current_context();
ROLLBACK;
-- Dropping the issuer ends all its tokens.
\c - postgres
SELECT taskforce.drop_jwt_issuer('https://fixed.example.com');
\c - jwt_app
SELECT taskforce.authenticate_jwt(:'fixed_tenant');
\echo :LAST_ERROR_SQLSTATE

-- A token authenticates in a read-only transaction, as on a hot standby.
BEGIN READ ONLY;
SELECT taskforce.authenticate_jwt(:'hs256_new');
SELECT taskforce.current_user_id() AS read_only_login;
COMMIT;

-- Every failed login was recorded, although each raised: failures are
-- queued in shared memory and written by the next write (here an explicit
-- flush).  A success is queued too, but only for the first use of each
-- token in taskforce.auth_success_event_interval (1 hour by default), so
-- a token used many times has one success event; provisioning is written
-- in the caller's transaction.  The actor is the user of the context the
-- attempt was made in, else the database role.
\c - postgres
SELECT taskforce.flush_security_events('0') >= 0 AS flushed;
SELECT tenant_id, user_id, last_login_at IS NOT NULL AS logged_in
  FROM taskforce.users WHERE tenant_id = 'jwt-acme' AND user_id = 'alice';
SELECT event, outcome, tenant_id, user_id, actor, db_role, details->>'kid' AS kid, reason
  FROM taskforce.security_events
 WHERE event_id > :events_before AND method = 'jwt'
 ORDER BY event_id;

-- A key for an algorithm its issuer does not allow would verify no token:
-- it is refused when added, naming the algorithms the issuer allows.
SELECT issuer, algorithms FROM taskforce.configure_jwt_issuer('https://holey.example.com', '{taskforce-api}',
                                                              '{HS256,RS256}', tenant_id => 'jwt-acme');
SELECT taskforce.add_jwt_key('holey-es', 'https://holey.example.com', 'ES256', public_key => :'ecpub');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.add_jwt_key('holey-hs384', 'https://holey.example.com', 'HS384', sha384('holey'));
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.add_jwt_key('holey-hs', 'https://holey.example.com', 'HS256', sha256('holey'));
SELECT kid, algorithm FROM taskforce.jwt_keys WHERE issuer = 'https://holey.example.com';
SELECT taskforce.mint_jwt('{"sub": "alice", "aud": "taskforce-api"}', 'holey-hs') AS holey_token
\gset

-- No stored configuration crashes verification.  NULL audiences or
-- algorithms are refused when configured, and by the table even to the
-- superuser ...
SELECT taskforce.configure_jwt_issuer('https://holey.example.com', ARRAY['taskforce-api', NULL],
                                      '{HS256}', tenant_id => 'jwt-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.configure_jwt_issuer('https://holey.example.com', '{taskforce-api}',
                                      ARRAY[NULL, 'HS256'], tenant_id => 'jwt-acme');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.configure_jwt_issuer('https://holey.example.com', '{{taskforce-api}}',
                                      '{HS256}', tenant_id => 'jwt-acme');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
UPDATE taskforce.jwt_issuers SET audiences = audiences || NULL::text WHERE issuer = 'https://holey.example.com';
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY default
-- ... and with the constraints gone, a NULL element matches nothing and
-- breaks nothing: the application role gets an answer or an error, never a
-- crash (0.2.0 crashed the server here).
BEGIN;
ALTER TABLE taskforce.jwt_issuers DROP CONSTRAINT jwt_issuers_audiences_no_null,
    DROP CONSTRAINT jwt_issuers_algorithms_no_null, DROP CONSTRAINT jwt_issuers_algorithms_known;
UPDATE taskforce.jwt_issuers SET audiences = ARRAY[NULL, 'taskforce-api', NULL], algorithms = ARRAY[NULL, 'HS256']
 WHERE issuer = 'https://holey.example.com';
SET LOCAL ROLE jwt_app;
SELECT taskforce.verify_jwt(:'holey_token')->>'sub' AS sub;
RESET ROLE;
UPDATE taskforce.jwt_issuers SET audiences = ARRAY[NULL]::text[], algorithms = ARRAY[NULL]::text[]
 WHERE issuer = 'https://holey.example.com';
SET LOCAL ROLE jwt_app;
SELECT taskforce.verify_jwt(:'holey_token');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
ALTER TABLE taskforce.jwt_issuers DROP CONSTRAINT jwt_issuers_audiences_no_null;
UPDATE taskforce.jwt_issuers SET audiences = ARRAY[NULL]::text[] WHERE issuer = 'https://holey.example.com';
SET LOCAL ROLE jwt_app;
SELECT taskforce.verify_jwt(:'holey_token');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
SELECT taskforce.verify_jwt(:'holey_token')->>'sub' AS sub_after;
SELECT taskforce.drop_jwt_issuer('https://holey.example.com');

DELETE FROM taskforce.jwt_issuers WHERE issuer = 'https://idp.example.com';
