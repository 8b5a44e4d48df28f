-- test/bench/jwt_verify_setup.sql: objects for jwt_verify.sh, run as the
-- bootstrap superuser: the extension, one tenant and user, an HS256 issuer
-- and key, one token of about 300 bytes minted with taskforce.mint_jwt(),
-- an ordinary LOGIN role "bench" (member of taskforce_admin), the
-- pgjwt-style verifier it is compared with, and a timing helper.
\set ON_ERROR_STOP 1
SET client_min_messages = warning;

CREATE EXTENSION taskforce CASCADE;
SELECT count(*) AS group_roles FROM taskforce.setup_roles();
CREATE ROLE bench LOGIN NOSUPERUSER NOBYPASSRLS IN ROLE taskforce_admin;
SELECT (taskforce.create_tenant('t001', 'bench tenant 1')).tenant_id AS tenant_created;
SELECT (taskforce.create_user('u0001', 'bench-user', 'bench-user@example.com',
                              tenant_id => 't001')).user_id AS user_created;
SELECT (taskforce.grant_role('u0001', 'operator', tenant_id => 't001')).role_name AS role_granted;

SELECT (taskforce.configure_jwt_issuer('https://idp.example', ARRAY['taskforce'],
                                       ARRAY['HS256'])).issuer AS issuer_configured;
SELECT taskforce.add_jwt_key('bench-hs256', 'https://idp.example', 'HS256',
                             convert_to('bench-hs256-secret-0123456789-abcdefghij', 'UTF8'));

-- The token, its signing input (header.payload) and the key as text, for
-- the pgcrypto and pgjwt-style variants.  Valid for a day.
CREATE TABLE public.bench_jwt (token text NOT NULL, signing_input text NOT NULL, secret text NOT NULL);
INSERT INTO public.bench_jwt
SELECT t.token, regexp_replace(t.token, '\.[^.]*$', ''),
       'bench-hs256-secret-0123456789-abcdefghij'
  FROM (SELECT taskforce.mint_jwt(
                   jsonb_build_object(
                       'sub', 'u0001',
                       'tenant_id', 't001',
                       'aud', 'taskforce',
                       'roles', jsonb_build_array('operator')),
                   'bench-hs256', interval '1 day') AS token) AS t;
GRANT SELECT ON public.bench_jwt TO bench;

-- A pgjwt-style verifier (the shape of verify() of the pgjwt extension,
-- https://github.com/michelp/pgjwt, written anew): split the token on '.',
-- base64url-decode header and payload (translate, pad, decode), recompute
-- the signature with pgcrypto's hmac() and compare it, parse the payload
-- as json and check nbf and exp against now().  Where pgjwt is slower than
-- it needs to be this is not: string_to_array instead of a regular
-- expression, url_decode a single inlinable expression, and the claims
-- cast without pgjwt's exception block (a subtransaction per claim).  It
-- checks no issuer, audience or kid, and returns the payload as json (no
-- jsonb conversion), so it does less than verify_jwt.  pgcrypto is
-- relocatable: its functions are named with the schema it was installed in.
DO $do$
DECLARE
    crypto_schema name := (SELECT e.extnamespace::regnamespace::name
                             FROM pg_extension AS e WHERE e.extname = 'pgcrypto');
BEGIN
    EXECUTE $f$
        CREATE FUNCTION public.bench_url_decode(data text) RETURNS bytea
            LANGUAGE sql IMMUTABLE
            AS $$ SELECT decode(translate(data, '-_', '+/') || repeat('=', (4 - length(data) % 4) % 4),
                                'base64') $$$f$;
    EXECUTE format($f$
        CREATE FUNCTION public.bench_sign(signing_input text, secret text, algorithm text) RETURNS text
            LANGUAGE sql IMMUTABLE
            AS $$ SELECT translate(encode(%1$I.hmac(signing_input, secret,
                                                    CASE algorithm WHEN 'HS256' THEN 'sha256'
                                                                   WHEN 'HS384' THEN 'sha384'
                                                                   WHEN 'HS512' THEN 'sha512' END),
                                          'base64'), E'+/=\n', '-_') $$$f$, crypto_schema);
END
$do$;

CREATE FUNCTION public.bench_pgjwt_verify(token text, secret text, algorithm text DEFAULT 'HS256')
    RETURNS json
    LANGUAGE plpgsql STABLE
    AS $$
DECLARE
    parts text[] := string_to_array(token, '.');
    header json;
    payload json;
    nbf double precision;
    exp double precision;
BEGIN
    IF cardinality(parts) <> 3 THEN
        RAISE EXCEPTION 'malformed token' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    header := convert_from(public.bench_url_decode(parts[1]), 'UTF8')::json;
    payload := convert_from(public.bench_url_decode(parts[2]), 'UTF8')::json;
    IF header->>'alg' IS DISTINCT FROM algorithm
       OR parts[3] <> public.bench_sign(parts[1] || '.' || parts[2], secret, algorithm) THEN
        RAISE EXCEPTION 'bad signature' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    IF json_typeof(payload->'nbf') = 'number' THEN
        nbf := (payload->>'nbf')::double precision;
    END IF;
    IF json_typeof(payload->'exp') = 'number' THEN
        exp := (payload->>'exp')::double precision;
    END IF;
    IF NOT tstzrange(to_timestamp(nbf), to_timestamp(exp)) @> now() THEN
        RAISE EXCEPTION 'token is not valid now' USING ERRCODE = 'invalid_authorization_specification';
    END IF;
    RETURN payload;
END
$$;

-- Runs a query returning one bigint, checks it, and returns the elapsed
-- wall-clock time in milliseconds (clock_timestamp() around the EXECUTE,
-- so planning, a few microseconds, is included; no EXPLAIN ANALYZE
-- instrumentation).
CREATE FUNCTION public.bench_time(q text, expect bigint) RETURNS double precision
    LANGUAGE plpgsql
    AS $$
DECLARE
    t0 timestamptz;
    t1 timestamptz;
    n bigint;
BEGIN
    t0 := clock_timestamp();
    EXECUTE q INTO n;
    t1 := clock_timestamp();
    IF n IS DISTINCT FROM expect THEN
        RAISE EXCEPTION 'query % returned %, expected %', q, n, expect;
    END IF;
    RETURN extract(epoch FROM t1 - t0) * 1000;
END
$$;
