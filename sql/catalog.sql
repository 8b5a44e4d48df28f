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
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('01.0.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('1.0.0-01');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('1.0.0-alpha..1');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('1.0.0-');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('1.0.0+');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('1.0.0+build..1');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('v1.0.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('1.0.0-al_pha');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key(' 1.0.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('9223372036854775808.0.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_key('1.0.0-99999999999999999999');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.semver_compare('1.0.0', 'latest');
\echo :LAST_ERROR_SQLSTATE
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

-- 3. The agent catalog, as an application uses it: seed 001 §4.1's agent,
-- its versions and lifecycle, run as an ordinary application role
-- (cat_app) in contexts the middleware role (cat_admin) establishes.
SET client_min_messages = warning;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS cat_app, cat_admin;
CREATE ROLE cat_app LOGIN IN ROLE taskforce_app;
CREATE ROLE cat_admin LOGIN IN ROLE taskforce_admin;
GRANT cat_app TO cat_admin;
RESET client_min_messages;
SELECT count(*) FROM taskforce.create_tenant('cat-acme', 'Acme Corp', limits => '{"max_agents": 4}');
SELECT count(*) FROM taskforce.create_tenant('cat-other', 'Other Corp');
SELECT count(*) AS users
  FROM (VALUES ('cat-acme', ARRAY['alice', 'bob', 'victor']), ('cat-other', ARRAY['eve'])) AS v(t, users),
       unnest(v.users) AS u, taskforce.create_user(u, u, tenant_id => v.t) AS c;
SELECT count(*) AS role_grants
  FROM (VALUES ('cat-acme', 'alice', 'agent_designer'), ('cat-acme', 'bob', 'admin'),
               ('cat-acme', 'victor', 'viewer'), ('cat-other', 'eve', 'admin')) AS v(t, u, r),
       taskforce.grant_role(v.u, v.r, tenant_id => v.t) AS g;
-- The application role cannot write the catalog's tables directly.
SET ROLE cat_app;
INSERT INTO taskforce.agents (tenant_id, agent_id, name) VALUES ('cat-acme', 'x', 'x');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;

-- alice (agent_designer) creates the seed's agent with its initial
-- definition: version 0.1.0, in draft, hashed.
\c - cat_admin
SELECT FROM taskforce.act_as('cat-acme', 'alice', scope => 'session');
SET ROLE cat_app;
SELECT agent_id, name, category, tags, owner_id, current_version
  FROM taskforce.create_agent('customer-support-agent', 'Customer Support Agent',
                              'Handles customer inquiries via email and chat', 'support',
                              ARRAY['production', 'nlp', 'customer-facing'],
                              '{"tools": ["semantic_search", "send_email"],
                                "system_prompt": "You are a helpful customer support agent for Acme Corp.",
                                "max_iterations": 10, "temperature": 0.7}');
SELECT version, status, created_by, changelog,
       config_hash = taskforce.config_hash(definition) AS hashed
  FROM taskforce.agent_versions WHERE agent_id = 'customer-support-agent';
-- Version 1.0.0 (seed 001 §4.1, "Creating New Versions").
SELECT version, status, created_by, changelog, length(config_hash) AS hash_bytes
  FROM taskforce.create_version('customer-support-agent', '1.0.0',
        '{"tools": ["semantic_search", "send_email", "create_ticket"],
          "system_prompt": "You are a helpful customer support agent for Acme Corp.",
          "max_iterations": 15, "temperature": 0.5,
          "rag_config": {"index": "support-docs", "max_results": 5}}',
        'Added ticket creation capability and improved RAG integration');
-- Bad versions and definitions; a version equal in precedence clashes.
\set VERBOSITY default
SELECT taskforce.create_version('customer-support-agent', '1.0', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_version('customer-support-agent', '1.0.0', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_version('customer-support-agent', '1.0.0+build.7', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_version('customer-support-agent', '1.1.0', '["not", "an", "object"]');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_version('no-such-agent', '1.0.0', '{}');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- A draft can change; its hash follows its definition.
SELECT version, status, config_hash = taskforce.config_hash('{"temperature": 0.50, "tools": []}') AS rehashed
  FROM taskforce.update_version_definition('customer-support-agent', '0.1.0', '{"tools": [], "temperature": 0.5}');

-- Submit, approve, publish without a workflow: submit returns no request.
SELECT taskforce.submit_version('customer-support-agent', '1.0.0') AS request_id;
SELECT version, status, submitted_at IS NOT NULL AS submitted
  FROM taskforce.agent_versions WHERE agent_id = 'customer-support-agent' AND version = '1.0.0';
-- Once submitted, the definition is fixed: through the function and for
-- a direct UPDATE by the table's owner alike.
\set VERBOSITY default
SELECT taskforce.update_version_definition('customer-support-agent', '1.0.0', '{"tools": []}');
\echo :LAST_ERROR_SQLSTATE
RESET ROLE;
\c - postgres
UPDATE taskforce.agent_versions SET definition = '{"tools": []}'
 WHERE tenant_id = 'cat-acme' AND agent_id = 'customer-support-agent' AND version = '1.0.0';
\echo :LAST_ERROR_SQLSTATE
UPDATE taskforce.agent_versions SET version = '1.0.1'
 WHERE tenant_id = 'cat-acme' AND agent_id = 'customer-support-agent' AND version = '1.0.0';
\echo :LAST_ERROR_SQLSTATE
\c - cat_admin
SELECT FROM taskforce.act_as('cat-acme', 'alice', scope => 'session');
SET ROLE cat_app;
-- Illegal transitions: 55000 with the allowed next states.
SELECT taskforce.publish_version('customer-support-agent', '1.0.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.archive_version('customer-support-agent', '0.1.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.submit_version('customer-support-agent', '1.0.0');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- victor (viewer) reads the catalog but may not change it.
RESET ROLE;
SELECT FROM taskforce.act_as('cat-acme', 'victor', scope => 'session');
SET ROLE cat_app;
SELECT agent_id FROM taskforce.list_agents();
SELECT taskforce.create_agent('victors-agent', 'Victor''s agent');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.approve_version('customer-support-agent', '1.0.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_version('customer-support-agent', '2.0.0', '{}');
\echo :LAST_ERROR_SQLSTATE
-- alice approves and publishes (agent_designer holds agent:publish).
RESET ROLE;
SELECT FROM taskforce.act_as('cat-acme', 'alice', scope => 'session');
SET ROLE cat_app;
SELECT version, status, approved_by, approved_at IS NOT NULL AS approved
  FROM taskforce.approve_version('customer-support-agent', '1.0.0');
SELECT version, status, published_at IS NOT NULL AS published
  FROM taskforce.publish_version('customer-support-agent', '1.0.0');
SELECT agent_id, current_version FROM taskforce.agents;
-- 1.1.0 replaces it: the previous version is deprecated by the publish.
SELECT version FROM taskforce.create_version('customer-support-agent', '1.1.0',
    '{"tools": ["semantic_search", "send_email", "create_ticket"], "temperature": 0.4}', 'Cooler');
SELECT taskforce.submit_version('customer-support-agent', '1.1.0');
SELECT status FROM taskforce.approve_version('customer-support-agent', '1.1.0');
SELECT status FROM taskforce.publish_version('customer-support-agent', '1.1.0');
SELECT version, status, deprecated_at IS NOT NULL AS deprecated
  FROM taskforce.agent_versions WHERE agent_id = 'customer-support-agent' ORDER BY version_key;
SELECT agent_id, current_version FROM taskforce.agents;
-- Withdrawal returns a pending version to draft, where it can change.
SELECT version FROM taskforce.create_version('customer-support-agent', '1.2.0-rc.1', '{"tools": []}');
SELECT taskforce.submit_version('customer-support-agent', '1.2.0-rc.1');
SELECT version, status, submitted_at IS NULL AS cleared
  FROM taskforce.withdraw_version('customer-support-agent', '1.2.0-rc.1');
SELECT status FROM taskforce.update_version_definition('customer-support-agent', '1.2.0-rc.1', '{"tools": ["x"]}');
-- The end of the line: deprecated, archived, and nothing after.
SELECT status, archived_at IS NOT NULL AS archived FROM taskforce.archive_version('customer-support-agent', '1.0.0');
\set VERBOSITY default
SELECT taskforce.archive_version('customer-support-agent', '1.0.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.deprecate_version('customer-support-agent', '1.0.0');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse

-- With an agent_publish workflow (bob, admin, sets one up), submitting
-- opens an approval request bound to the version's config hash, and the
-- version cannot be approved until the request is.
RESET ROLE;
SELECT FROM taskforce.act_as('cat-acme', 'bob', scope => 'session');
SET ROLE cat_app;
SELECT workflow_id, request_type, required_approvals
  FROM taskforce.create_workflow('publish-review', 'Publish review', 'agent_publish', 1, ARRAY['admin']);
RESET ROLE;
SELECT FROM taskforce.act_as('cat-acme', 'alice', scope => 'session');
SET ROLE cat_app;
SELECT taskforce.submit_version('customer-support-agent', '1.2.0-rc.1') AS request_id \gset
SELECT request_type, resource_type, resource_id, title, requester_id, status, payload,
       content_hash = (SELECT config_hash FROM taskforce.agent_versions
                        WHERE agent_id = 'customer-support-agent' AND version = '1.2.0-rc.1') AS bound_to_hash
  FROM taskforce.approval_requests WHERE request_id = :request_id;
\set VERBOSITY default
SELECT taskforce.approve_version('customer-support-agent', '1.2.0-rc.1');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
RESET ROLE;
SELECT FROM taskforce.act_as('cat-acme', 'bob', scope => 'session');
SET ROLE cat_app;
SELECT status FROM taskforce.approve_request(:request_id, 'looks good');
RESET ROLE;
SELECT FROM taskforce.act_as('cat-acme', 'alice', scope => 'session');
SET ROLE cat_app;
SELECT status, approved_by FROM taskforce.approve_version('customer-support-agent', '1.2.0-rc.1');
SELECT status FROM taskforce.publish_version('customer-support-agent', '1.2.0-rc.1');
RESET ROLE;
SELECT FROM taskforce.act_as('cat-acme', 'bob', scope => 'session');
SET ROLE cat_app;
SELECT enabled FROM taskforce.disable_workflow('publish-review');
RESET ROLE;
SELECT FROM taskforce.act_as('cat-acme', 'alice', scope => 'session');
SET ROLE cat_app;
-- Versions in precedence order (ORDER BY version_key).
SELECT version, status FROM taskforce.agent_versions
 WHERE agent_id = 'customer-support-agent' ORDER BY version_key;
-- An agent with a published version cannot be deleted.
SELECT taskforce.delete_agent('customer-support-agent');
\echo :LAST_ERROR_SQLSTATE

-- Plan limit: cat-acme may have 4 agents.
SELECT count(*) AS created
  FROM (VALUES ('billing-agent', 'Billing Agent', 'Answers invoice and payment questions', 'finance',
                ARRAY['production', 'billing']),
               ('support-triage', 'Ticket Triage', 'Routes customer support tickets to the right queue', 'support',
                ARRAY['nlp', 'internal']),
               ('hr-helper', 'HR Helper', 'Answers questions about leave and benefits', 'hr', ARRAY['internal']))
       AS v(id, name, description, category, tags),
       taskforce.create_agent(v.id, v.name, v.description, v.category, v.tags) AS a;
\set VERBOSITY default
SELECT taskforce.create_agent('one-too-many', 'One Too Many');
\echo :LAST_ERROR_SQLSTATE
\set VERBOSITY terse
-- Listing by category and by tags (any match), and ranked search: a match
-- in the name (A) ranks above one in the tags (B) or the description (C).
SELECT agent_id FROM taskforce.list_agents(category => 'support');
SELECT agent_id FROM taskforce.list_agents(tags => ARRAY['billing', 'nlp']);
SELECT agent_id FROM taskforce.list_agents(category => 'support', tags => ARRAY['internal']);
SELECT agent_id, current_version, round(rank::numeric, 4) AS rank FROM taskforce.search_agents('customer support');
SELECT agent_id, round(rank::numeric, 4) AS rank FROM taskforce.search_agents('support');
SELECT agent_id FROM taskforce.search_agents('support OR billing OR benefits', lim => 2);
SELECT agent_id FROM taskforce.search_agents('payment');
SELECT agent_id FROM taskforce.search_agents('"customer support" -triage');
SELECT taskforce.search_agents('support', lim => 0);
\echo :LAST_ERROR_SQLSTATE
-- The search uses the index on a catalog of any size.
RESET ROLE;
\c - postgres
SET enable_seqscan = off;
EXPLAIN (COSTS OFF) SELECT agent_id FROM taskforce.agents
 WHERE search @@ websearch_to_tsquery('english', 'customer support');
RESET enable_seqscan;
-- Every transition of a version is in the audit trail, attributed to the
-- context's user: 1.1.0 from its creation to its deprecation by the
-- publish of 1.2.0-rc.1.  The publish put agent_published in the outbox.
SELECT action, new_values->>'from' AS "from", new_values->>'to' AS "to", user_id
  FROM taskforce.audit_log
 WHERE event_type = 'transition' AND object = 'taskforce.agent_versions'
   AND tenant_id = 'cat-acme'
   AND row_key::jsonb @> '{"agent_id": "customer-support-agent", "version": "1.1.0"}'
 ORDER BY logged_at, txid, entry_seq;
SELECT new_values->'payload'->>'version' AS version, new_values->'payload'->>'previous_version' AS previous,
       new_values->'payload'->'deprecated_versions' AS deprecated
  FROM taskforce.audit_log
 WHERE event_type = 'event' AND object = 'agent_published' AND tenant_id = 'cat-acme'
 ORDER BY logged_at, txid, entry_seq;
-- Deleting an agent without a published version takes its versions along.
\c - cat_admin
SELECT FROM taskforce.act_as('cat-acme', 'alice', scope => 'session');
SET ROLE cat_app;
SELECT version FROM taskforce.create_version('hr-helper', '0.9.0', '{}');
SELECT taskforce.delete_agent('hr-helper');
SELECT count(*) AS hr_versions FROM taskforce.agent_versions WHERE agent_id = 'hr-helper';

-- Another tenant's agents are invisible and cannot be named (42704).
RESET ROLE;
SELECT FROM taskforce.act_as('cat-other', 'eve', scope => 'session');
SET ROLE cat_app;
SELECT count(*) AS visible_agents, (SELECT count(*) FROM taskforce.agent_versions) AS visible_versions
  FROM taskforce.agents;
SELECT count(*) AS listed FROM taskforce.list_agents();
SELECT count(*) AS found FROM taskforce.search_agents('customer support');
SELECT taskforce.publish_version('customer-support-agent', '1.1.0');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.create_version('customer-support-agent', '9.0.0', '{}');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.delete_agent('customer-support-agent');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.list_agents(tenant_id => 'cat-acme');
\echo :LAST_ERROR_SQLSTATE
-- The same agent_id is free in this tenant.
SELECT agent_id, owner_id FROM taskforce.create_agent('customer-support-agent', 'Other Support');
RESET ROLE;
