-- evidence: citations from semantic-search results (seed 001 section 8.1)
-- and evidence records.  Denials print their SQLSTATE with
-- \echo :LAST_ERROR_SQLSTATE.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
RESET client_min_messages;

-- The seed's search result and its citations.
\set search_result '{"success": true, "results": [{"document_id": "doc-policy-001", "document_title": "Employee Handbook 2026", "content": "Employees are entitled to 25 days of annual leave per calendar year.", "score": 0.95, "page_number": 42}, {"document_id": "doc-hr-faq", "document_title": "HR FAQ Document", "content": "Leave requests must be submitted at least 2 weeks in advance.", "score": 0.87, "page_number": 5}]}'
SELECT jsonb_pretty(taskforce.extract_citations(:'search_result'));
SELECT c->>'title' AS title, c->>'document_id' AS document_id, round((c->>'score')::numeric, 2) AS score,
       c->>'page_number' AS page, left(c->>'snippet', 80) AS snippet
  FROM jsonb_array_elements(taskforce.extract_citations(:'search_result')) AS c;

-- The seed's formatting example, exactly: inline, then appendix with scores.
\set citations '[{"document_id": "doc-policy-001", "title": "Employee Handbook 2026", "snippet": "Employees are entitled to 25 days of annual leave.", "score": 0.95, "page_number": 42}, {"document_id": "doc-hr-faq", "title": "HR FAQ Document", "snippet": "Leave requests must be submitted 2 weeks in advance.", "score": 0.87, "page_number": 5}]'
\set agent_response 'According to our policy, you have 25 days of annual leave. Please submit your requests at least 2 weeks in advance.'
SELECT formatted_text, "references"
  FROM taskforce.format_citations(:'agent_response', :'citations', style => 'inline',
                                  max_citations => 10, include_score => false, include_page => true);
SELECT unnest("references") AS reference FROM taskforce.format_citations(:'agent_response', :'citations');
\pset format unaligned
\pset tuples_only on
SELECT formatted_text
  FROM taskforce.format_citations(:'agent_response', :'citations', style => 'appendix', include_score => true);
\pset format aligned
\pset tuples_only off
-- The exact strings of the seed's output.
SELECT formatted_text = 'According to our policy, you have 25 days of annual leave [1]. Please submit your requests at least 2 weeks in advance [2].' AS inline_exact,
       "references" = ARRAY['[1] Employee Handbook 2026 p. 42', '[2] HR FAQ Document p. 5'] AS references_exact
  FROM taskforce.format_citations(:'agent_response', :'citations');
SELECT formatted_text = :'agent_response' || E'\n\n---\n**References:**\n[1] Employee Handbook 2026 p. 42 (relevance: 0.95)\n[2] HR FAQ Document p. 5 (relevance: 0.87)' AS appendix_exact
  FROM taskforce.format_citations(:'agent_response', :'citations', 'appendix', include_score => true);
-- Extracted citations format the same way.
SELECT formatted_text FROM taskforce.format_citations(:'agent_response', taskforce.extract_citations(:'search_result'));

-- Options: no pages, scores inline, a maximum, none.
SELECT "references" FROM taskforce.format_citations(:'agent_response', :'citations', include_page => false);
SELECT "references" FROM taskforce.format_citations(:'agent_response', :'citations', include_score => true);
SELECT formatted_text, "references" FROM taskforce.format_citations(:'agent_response', :'citations', max_citations => 1);
SELECT formatted_text, "references" FROM taskforce.format_citations(:'agent_response', :'citations', max_citations => 0);
SELECT formatted_text = :'agent_response' AS unchanged, "references"
  FROM taskforce.format_citations(:'agent_response', :'citations', 'appendix', max_citations => 0);
SELECT formatted_text, "references" FROM taskforce.format_citations(:'agent_response', '[]');

-- More citations than sentences: the rest are marked on the last sentence.
SELECT formatted_text FROM taskforce.format_citations('Take 25 days of leave!',
    '[{"title": "A"}, {"title": "B"}, {"title": "C"}]');
-- Fewer: later sentences stay unmarked.  ? and ! end sentences, a run of
-- them is kept together, a . inside a number does not end one, and a
-- trailing sentence without punctuation is marked at its end.
SELECT formatted_text FROM taskforce.format_citations('Is it 2.5 days?! It is. Really',
    '[{"title": "A"}, {"title": "B"}, {"title": "C"}, {"title": "D"}]');
SELECT formatted_text FROM taskforce.format_citations(E'One. Two.  \n',
    '[{"title": "A"}, {"title": "B"}, {"title": "C"}]');
SELECT formatted_text FROM taskforce.format_citations('One. Two. Three.', '[{"title": "A"}]');
SELECT formatted_text, "references" FROM taskforce.format_citations('', '[{"title": "A", "page_number": 3}]');
-- Missing page or score: left out of the reference.
SELECT "references" FROM taskforce.format_citations('x', '[{"title": "A", "score": null}, {"title": "B", "score": 1}]',
                                                    include_score => true);

-- Search results: unsuccessful or without results cite nothing; a missing
-- title falls back to the document id.
SELECT taskforce.extract_citations('{"success": false, "error": "index offline"}');
SELECT taskforce.extract_citations('{"success": true}');
SELECT taskforce.extract_citations('{"success": true, "results": []}');
SELECT taskforce.extract_citations('{"results": [{"document_id": "d1"}]}');

-- Bad input.
\set VERBOSITY sqlstate
SELECT taskforce.extract_citations(NULL);
SELECT taskforce.extract_citations('[]');
SELECT taskforce.extract_citations('{"success": "yes"}');
SELECT taskforce.extract_citations('{"results": {}}');
SELECT taskforce.extract_citations('{"results": [1]}');
SELECT taskforce.extract_citations('{"results": [{"document_title": "no id"}]}');
SELECT taskforce.extract_citations('{"results": [{"document_id": "d", "score": "high"}]}');
SELECT taskforce.extract_citations('{"results": [{"document_id": "d", "page_number": 4.5}]}');
SELECT taskforce.extract_citations('{"results": [{"document_id": "d", "content": 7}]}');
SELECT * FROM taskforce.format_citations(NULL, '[]');
SELECT * FROM taskforce.format_citations('x', NULL);
SELECT * FROM taskforce.format_citations('x', '[]', NULL);
SELECT * FROM taskforce.format_citations('x', '[]', max_citations => NULL);
SELECT * FROM taskforce.format_citations('x', '[]', include_page => NULL);
SELECT * FROM taskforce.format_citations('x', '[]', 'footnote');
SELECT * FROM taskforce.format_citations('x', '[]', max_citations => -1);
SELECT * FROM taskforce.format_citations('x', '{}');
SELECT * FROM taskforce.format_citations('x', '[{"document_id": "no title"}]');
SELECT * FROM taskforce.format_citations('x', '[{"title": "A", "score": "high"}]');
\set VERBOSITY default

-- Pure functions: immutable and parallel safe.
SELECT p.oid::regprocedure, p.provolatile, p.proparallel FROM pg_proc AS p
 WHERE p.oid IN ('taskforce.extract_citations(jsonb)'::regprocedure,
                 'taskforce.format_citations(text, jsonb, text, integer, boolean, boolean)'::regprocedure)
 ORDER BY p.oid::regprocedure::text;

-- Evidence records, written and read as an ordinary application role.
SET client_min_messages = warning;
SELECT count(*) FROM taskforce.setup_roles();
DROP ROLE IF EXISTS evidence_app;
CREATE ROLE evidence_app LOGIN IN ROLE taskforce_app;
SELECT count(*) FROM taskforce.create_tenant('ev-acme', 'Acme');
SELECT count(*) FROM taskforce.create_tenant('ev-globex', 'Globex');
RESET client_min_messages;
-- Operators hold evidence:write; viewers do not.
SELECT role_name FROM taskforce.system_roles
 WHERE taskforce.permission_matches(permissions, 'evidence:write') ORDER BY 1;

-- An operator of acme records a tool result, a citation and a decision.
BEGIN;
SELECT taskforce.act_as('ev-acme', 'alice', ARRAY['operator']);
SET LOCAL ROLE evidence_app;
SELECT taskforce.record_evidence('s-1', 'tool_result', 'search_documents', :'search_result',
                                 '{"tool_call_id": "call-7"}') IS NOT NULL AS recorded;
SELECT taskforce.record_evidence('s-1', 'citation', 'doc-policy-001',
                                 taskforce.extract_citations(:'search_result')->0) IS NOT NULL AS recorded;
SELECT taskforce.record_evidence('s-1', 'decision', 'agent', '{"answer": "25 days"}') IS NOT NULL AS recorded;
SELECT tenant_id, session_id, evidence_type, source, content->>'title' AS cited, metadata, recorded_by
  FROM taskforce.evidence ORDER BY recorded_at;
COMMIT;

-- Globex's operator records its own and sees none of acme's.
BEGIN;
SELECT taskforce.act_as('ev-globex', 'bob', ARRAY['operator']);
SET LOCAL ROLE evidence_app;
SELECT taskforce.record_evidence('s-9', 'user_input', 'chat', '"how many leave days?"') IS NOT NULL AS recorded;
SELECT tenant_id, session_id, evidence_type, recorded_by FROM taskforce.evidence;
-- It may not change, delete or insert records directly, not even its own.
SAVEPOINT s;
UPDATE taskforce.evidence SET content = '"changed"';
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
DELETE FROM taskforce.evidence;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
INSERT INTO taskforce.evidence (session_id, evidence_type, content) VALUES ('s-9', 'decision', '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
TRUNCATE taskforce.evidence;
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
-- Bad input.
SELECT taskforce.record_evidence('s-9', 'rumour', 'chat', '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.record_evidence('', 'decision', 'agent', '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.record_evidence('s-9', 'decision', 'agent', NULL);
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
SELECT taskforce.record_evidence('s-9', 'decision', 'agent', '{}', '[]');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK TO s;
COMMIT;

-- A viewer may read its tenant's evidence but not record any.
BEGIN;
SELECT taskforce.act_as('ev-acme', 'vera', ARRAY['viewer']);
SET LOCAL ROLE evidence_app;
SELECT taskforce.record_evidence('s-1', 'decision', 'agent', '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
BEGIN;
SELECT taskforce.act_as('ev-acme', 'vera', ARRAY['viewer']);
SET LOCAL ROLE evidence_app;
SELECT count(*) AS acme_records FROM taskforce.evidence;
ROLLBACK;

-- Without a context: nothing to read, nothing to record.
\c - evidence_app
SELECT count(*) FROM taskforce.evidence;
SELECT taskforce.record_evidence('s-1', 'decision', 'agent', '{}');
\echo :LAST_ERROR_SQLSTATE
\c - postgres

-- Nothing was half-written: the records, by tenant.
SELECT tenant_id, evidence_type, count(*) FROM taskforce.evidence GROUP BY 1, 2 ORDER BY 1, 2;
-- A deleted tenant records no more evidence.
SELECT (taskforce.delete_tenant('ev-globex')).status;
BEGIN;
INSERT INTO taskforce.evidence (tenant_id, session_id, evidence_type, content) VALUES ('ev-globex', 's-9', 'decision', '{}');
\echo :LAST_ERROR_SQLSTATE
ROLLBACK;
-- The table is isolated, dumped with the database, and app roles hold only SELECT.
SELECT count(*) FROM taskforce.isolation_report() WHERE table_name = 'taskforce.evidence'::regclass;
SELECT 'taskforce.evidence'::regclass = ANY (extconfig) AS dumped FROM pg_extension WHERE extname = 'taskforce';
SELECT privilege_type FROM information_schema.role_table_grants
 WHERE table_schema = 'taskforce' AND table_name = 'evidence' AND grantee = 'taskforce_app' ORDER BY 1;
SELECT has_function_privilege('taskforce_app', 'taskforce.record_evidence(text, text, text, jsonb, jsonb)', 'EXECUTE');
