-- catalog: semantic versions, definition hashes and the agent catalog
-- (issue 11; spec sections 2 and 3).
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
RESET client_min_messages;

-- 1. SemVer 2.0.0 precedence: the specification's two example chains,
-- each version strictly lower than the next, by semver_compare and by the
-- byte order of semver_key.
WITH chain(v, n) AS (
    SELECT v, n FROM unnest(ARRAY['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta',
                                  '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0',
                                  '2.0.0', '2.1.0', '2.1.1']) WITH ORDINALITY AS u(v, n))
SELECT a.v AS lower, b.v AS higher,
       taskforce.semver_compare(a.v, b.v) AS cmp, taskforce.semver_compare(b.v, a.v) AS reverse,
       taskforce.semver_key(a.v) < taskforce.semver_key(b.v) AS key_lower
  FROM chain AS a JOIN chain AS b ON b.n = a.n + 1
 ORDER BY a.n;
-- Every pair agrees with the chain's order, not only neighbours.
WITH chain(v, n) AS (
    SELECT v, n FROM unnest(ARRAY['1.0.0-alpha', '1.0.0-alpha.1', '1.0.0-alpha.beta', '1.0.0-beta',
                                  '1.0.0-beta.2', '1.0.0-beta.11', '1.0.0-rc.1', '1.0.0',
                                  '2.0.0', '2.1.0', '2.1.1']) WITH ORDINALITY AS u(v, n))
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE taskforce.semver_compare(a.v, b.v) = sign(a.n - b.n)::integer) AS agreeing,
       count(*) FILTER (WHERE (taskforce.semver_key(a.v) < taskforce.semver_key(b.v)) = (a.n < b.n)
                          AND (taskforce.semver_key(a.v) = taskforce.semver_key(b.v)) = (a.n = b.n)) AS keys_agreeing
  FROM chain AS a CROSS JOIN chain AS b;
-- Sorting by the key: numbers as numbers, numeric identifiers before
-- alphanumeric ones, ASCII order for the rest (upper case first).
SELECT v FROM unnest(ARRAY['10.0.0', '9.0.0', '1.10.0', '1.9.0', '1.0.0-2', '1.0.0-10', '1.0.0-a',
                           '1.0.0-Z', '1.0.0-alpha-1', '1.0.0-alpha0', '0.0.0']) AS v
 ORDER BY taskforce.semver_key(v);
-- Build metadata is allowed and does not count for precedence.
SELECT taskforce.semver_compare('1.0.0+build.1', '1.0.0+build.2') AS builds_equal,
       taskforce.semver_compare('1.0.0-alpha+001', '1.0.0-alpha') AS prerelease_build_equal,
       taskforce.semver_compare('1.0.0+20130313144700', '1.0.0-beta') AS release_above_prerelease,
       taskforce.semver_compare('9223372036854775807.0.0', '9223372036854775806.0.0') AS largest;
SELECT taskforce.semver_key(NULL) IS NULL AS strict;
-- Invalid versions: 22023 with what is wrong.
\set VERBOSITY default
SELECT taskforce.semver_key('1.0');
SELECT taskforce.semver_key('01.0.0');
SELECT taskforce.semver_key('1.0.0-01');
SELECT taskforce.semver_key('1.0.0-alpha..1');
SELECT taskforce.semver_key('1.0.0-');
SELECT taskforce.semver_key('1.0.0+');
SELECT taskforce.semver_key('1.0.0+build..1');
SELECT taskforce.semver_key('v1.0.0');
SELECT taskforce.semver_key('1.0.0-al_pha');
SELECT taskforce.semver_key(' 1.0.0');
SELECT taskforce.semver_key('9223372036854775808.0.0');
SELECT taskforce.semver_key('1.0.0-99999999999999999999');
SELECT taskforce.semver_compare('1.0.0', 'latest');
\set VERBOSITY terse
-- Leading zeros are allowed in alphanumeric identifiers and build metadata.
SELECT taskforce.semver_compare('1.0.0-0a', '1.0.0-0a+007') AS ok;

-- 2. Definition hashes: equal for what jsonb holds equal.
SELECT taskforce.config_hash('{"a": 1, "b": [1, 2]}') = taskforce.config_hash('{"b":[1,2],"a":1}') AS key_order,
       taskforce.config_hash('{"a":1}') = taskforce.config_hash(E'{\n  "a" :   1\n}') AS whitespace,
       taskforce.config_hash('{"a": 2, "a": 1}') = taskforce.config_hash('{"a": 1}') AS duplicate_key_last_wins,
       taskforce.config_hash('{"t": 1.0}') = taskforce.config_hash('{"t": 1.00}')
           AND taskforce.config_hash('{"t": 1.00}') = taskforce.config_hash('{"t": 1}') AS number_scale,
       taskforce.config_hash('{"t": 100}') = taskforce.config_hash('{"t": 1e2}') AS exponent,
       taskforce.config_hash('{"t": -0.0}') = taskforce.config_hash('{"t": 0}') AS zero;
-- What differs, hashes differently: array order, types, nesting, values.
SELECT taskforce.config_hash('[1, 2]') <> taskforce.config_hash('[2, 1]') AS array_order,
       taskforce.config_hash('[[1, 2], [3]]') <> taskforce.config_hash('[[1], [2, 3]]') AS nested_arrays,
       taskforce.config_hash('{"a": "1"}') <> taskforce.config_hash('{"a": 1}') AS string_not_number,
       taskforce.config_hash('{"a": null}') <> taskforce.config_hash('{}') AS null_not_absent,
       taskforce.config_hash('1') <> taskforce.config_hash('[1]') AS scalar_not_array,
       taskforce.config_hash('{"a": {"b": 1}}') <> taskforce.config_hash('{"a.b": 1}') AS nesting,
       taskforce.config_hash('{"t": 0.7}') <> taskforce.config_hash('{"t": 0.70001}') AS close_numbers,
       taskforce.config_hash('["ab", "c"]') <> taskforce.config_hash('["a", "bc"]') AS string_boundaries,
       taskforce.config_hash('true') <> taskforce.config_hash('false') AS booleans;
-- Agreement with jsonb equality over a set of values (rows equal as jsonb
-- have equal hashes and only those).
WITH v(j) AS (VALUES ('{"x": [1.50, {"y": 2}], "z": "s"}'::jsonb), ('{"z": "s", "x": [1.5, {"y": 2.0}]}'),
                     ('{"x": [{"y": 2}, 1.5], "z": "s"}'), ('[]'), ('{}'), ('""'), ('null'), ('0'), ('0.000'))
SELECT count(*) AS pairs,
       count(*) FILTER (WHERE (a.j = b.j) = (taskforce.config_hash(a.j) = taskforce.config_hash(b.j))) AS agreeing
  FROM v AS a CROSS JOIN v AS b;
-- The hash is SHA-256: 32 bytes, and stable across releases (the value
-- of a fixed definition).
SELECT length(taskforce.config_hash('{}')) AS bytes,
       encode(taskforce.config_hash('{"temperature": 0.70, "tools": ["semantic_search"]}'), 'hex') AS fixed;
