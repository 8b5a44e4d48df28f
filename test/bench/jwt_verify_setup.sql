-- test/bench/jwt_verify_setup.sql: objects for jwt_verify.sh, run as the
-- bootstrap superuser with psql -v cold=COLD_ROWS: the extension, one
-- tenant and user, an HS256 issuer and key, one token of 335 bytes
-- and COLD_ROWS distinct tokens of the same length minted with
-- taskforce.mint_jwt(), an ordinary LOGIN role "bench" (member of
-- taskforce_admin), the two pgjwt-style verifiers it is compared with, and
-- a timing helper.
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

-- The tokens: claims sub, tenant_id, aud, roles and a six-digit jti (plus
-- iss, iat and exp from mint_jwt), valid for a day.  jti 000000 is the
-- token of the warm variants (bench_jwt, with its signing input
-- header.payload and the key as text, for the pgcrypto and pgjwt-style
-- variants); jti 000001 .. COLD_ROWS are the distinct tokens of the cold
-- variants (bench_jwt_cold).  The jti has a fixed width, so every token
-- has the same length.
CREATE FUNCTION pg_temp.bench_token(jti int) RETURNS text
    LANGUAGE sql
    AS $$ SELECT taskforce.mint_jwt(
                     jsonb_build_object(
                         'sub', 'u0001',
                         'tenant_id', 't001',
                         'aud', 'taskforce',
                         'roles', jsonb_build_array('operator'),
                         'jti', lpad(jti::text, 6, '0')),
                     'bench-hs256', interval '1 day') $$;
CREATE TABLE public.bench_jwt (token text NOT NULL, signing_input text NOT NULL, secret text NOT NULL);
INSERT INTO public.bench_jwt
SELECT t.token, regexp_replace(t.token, '\.[^.]*$', ''),
       'bench-hs256-secret-0123456789-abcdefghij'
  FROM (SELECT pg_temp.bench_token(0) AS token) AS t;
CREATE TABLE public.bench_jwt_cold (jti int PRIMARY KEY, token text NOT NULL, signing_input text NOT NULL);
INSERT INTO public.bench_jwt_cold
SELECT t.jti, t.token, regexp_replace(t.token, '\.[^.]*$', '')
  FROM (SELECT g AS jti, pg_temp.bench_token(g) AS token
          FROM generate_series(1, :cold) AS g) AS t
 ORDER BY t.jti;
VACUUM (FREEZE, ANALYZE) public.bench_jwt, public.bench_jwt_cold;
GRANT SELECT ON public.bench_jwt, public.bench_jwt_cold TO bench;

-- (b) A lean pgjwt-style verifier (the steps of verify() of the pgjwt
-- extension, https://github.com/michelp/pgjwt, written anew): split the
-- token on '.', base64url-decode header and payload (translate, pad,
-- decode), recompute the signature with pgcrypto's hmac() and compare it,
-- parse the payload as json and check nbf and exp against now().  Where
-- pgjwt is slower than it needs to be this is not: string_to_array instead
-- of a regular expression, url_decode a single inlinable expression, and
-- the claims cast without pgjwt's exception block (a subtransaction per
-- claim).  It checks no issuer, audience or kid, and returns the payload
-- as json (no jsonb conversion), so it does less than verify_jwt.
-- pgcrypto is relocatable: its functions are named with the schema it was
-- installed in.
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

-- (b-pgjwt) A verifier in the shape of pgjwt's own verify() (pgjwt 0.2.0),
-- written anew from a description of it, not copied:
--   url_encode(bytea): base64, then '+/' to '-_' and '=' and newlines dropped;
--   url_decode(text): '-_' to '+/', '=' padding to a multiple of 4, decode
--     (here in PL/pgSQL, so it is a call per part);
--   algorithm_sign(signing input, key, alg): url_encode(hmac(...)) with the
--     digest chosen from alg in a WITH clause (so the planner cannot inline
--     it: a SQL-function call per token);
--   try_cast_double(text): the cast in a PL/pgSQL exception block, so a
--     subtransaction per call, once for nbf and once for exp;
--   verify(token, key, alg): a SQL function returning (header json,
--     payload json, valid boolean), declared IMMUTABLE as pgjwt declares
--     it although it reads the clock, over
--     regexp_split_to_array(token, '\.'):
--     convert_from(url_decode(part), 'utf8')::json for header and payload,
--     part 3 = algorithm_sign(part 1 || '.' || part 2), and
--     valid = signature matches AND tstzrange(to_timestamp(try_cast_double(
--     payload->>'nbf')), to_timestamp(try_cast_double(payload->>'exp')))
--     @> now().
-- pgjwt's own url_decode is a SQL function with a WITH clause, which the
-- planner cannot inline either and which was slower per call than this
-- PL/pgSQL one in a comparison by hand; so if anything this is faster than
-- pgjwt.  Like pgjwt it does not raise for a bad token (valid is false),
-- and looks at neither issuer nor audience nor kid nor the header's alg.
-- The benchmark calls it as pgjwt's users do, in FROM:
--   SELECT count(v.payload) FROM ..., verify(token, key) AS v WHERE v.valid
-- The planner inlines verify() into that query (the IMMUTABLE label does
-- not stop it), so, as with pgjwt, the payload is decoded and parsed where
-- it is used: three times a token (the output, the nbf cast and the exp
-- cast); the header, which the query does not use, never.
DO $do$
DECLARE
    crypto_schema name := (SELECT e.extnamespace::regnamespace::name
                             FROM pg_extension AS e WHERE e.extname = 'pgcrypto');
BEGIN
    EXECUTE $f$
        CREATE FUNCTION public.bench_pgjwt_url_encode(data bytea) RETURNS text
            LANGUAGE sql IMMUTABLE
            AS $$ SELECT translate(encode(data, 'base64'), E'+/=\n', '-_') $$$f$;
    EXECUTE format($f$
        CREATE FUNCTION public.bench_pgjwt_algorithm_sign(signing_input text, secret text, algorithm text)
            RETURNS text
            LANGUAGE sql IMMUTABLE
            AS $$ WITH digest AS (SELECT CASE algorithm WHEN 'HS256' THEN 'sha256'
                                                        WHEN 'HS384' THEN 'sha384'
                                                        WHEN 'HS512' THEN 'sha512'
                                                        ELSE '' END AS name)
                  SELECT public.bench_pgjwt_url_encode(%1$I.hmac(signing_input, secret, digest.name))
                    FROM digest $$$f$, crypto_schema);
END
$do$;

CREATE FUNCTION public.bench_pgjwt_url_decode(data text) RETURNS bytea
    LANGUAGE plpgsql IMMUTABLE
    AS $$
DECLARE
    b64 text := translate(data, '-_', '+/');
    short int := length(b64) % 4;
BEGIN
    IF short > 0 THEN
        b64 := b64 || repeat('=', 4 - short);
    END IF;
    RETURN decode(b64, 'base64');
END
$$;

CREATE FUNCTION public.bench_pgjwt_try_cast_double(data text) RETURNS double precision
    LANGUAGE plpgsql IMMUTABLE
    AS $$
BEGIN
    BEGIN
        RETURN data::double precision;
    EXCEPTION WHEN others THEN
        RETURN NULL;
    END;
END
$$;

CREATE FUNCTION public.bench_pgjwt_real_verify(token text, secret text, algorithm text DEFAULT 'HS256')
    RETURNS TABLE (header json, payload json, valid boolean)
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT parts.header, parts.payload,
           parts.signature_ok
           AND tstzrange(to_timestamp(public.bench_pgjwt_try_cast_double(parts.payload->>'nbf')),
                         to_timestamp(public.bench_pgjwt_try_cast_double(parts.payload->>'exp')))
               @> now()
      FROM (SELECT convert_from(public.bench_pgjwt_url_decode(p[1]), 'utf8')::json AS header,
                   convert_from(public.bench_pgjwt_url_decode(p[2]), 'utf8')::json AS payload,
                   p[3] = public.bench_pgjwt_algorithm_sign(p[1] || '.' || p[2], secret, algorithm)
                       AS signature_ok
              FROM regexp_split_to_array(token, '\.') AS p) AS parts
$$;

\ir bench_time.sql
