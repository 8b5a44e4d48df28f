-- src/sql/evidence.sql: evidence records (new in 0.5.0; seed 000 section 2).
-- What an agent's decision rested on: tool results, LLM responses, user
-- input, citations and the decisions themselves, per tenant and session.
-- Records are written only through record_evidence(), which stamps the
-- context's tenant and user; applications read their own tenant's records
-- (tenant isolation) and may not change or delete any.  Like security
-- events, a deleted tenant's evidence is kept by offboard_tenant.

CREATE TABLE taskforce.evidence (
    evidence_id   uuid        NOT NULL DEFAULT gen_random_uuid(),
    tenant_id     text        NOT NULL,
    session_id    text        NOT NULL,
    evidence_type text        NOT NULL,
    source        text,
    content       jsonb       NOT NULL,
    metadata      jsonb       NOT NULL DEFAULT '{}',
    recorded_at   timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    recorded_by   text,
    CONSTRAINT evidence_pkey PRIMARY KEY (tenant_id, evidence_id),
    CONSTRAINT evidence_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT evidence_type_known CHECK (evidence_type IN (
        'tool_result', 'llm_response', 'user_input', 'citation', 'decision')),
    CONSTRAINT evidence_session_id_nonempty CHECK (session_id <> ''),
    CONSTRAINT evidence_metadata_object CHECK (jsonb_typeof(metadata) = 'object')
);
CREATE INDEX evidence_session ON taskforce.evidence (tenant_id, session_id, recorded_at);
COMMENT ON TABLE taskforce.evidence IS
    'evidence records: what an agent''s decisions rested on, per tenant and session; written by record_evidence()';
COMMENT ON COLUMN taskforce.evidence.evidence_type IS
    'tool_result, llm_response, user_input, citation or decision';
COMMENT ON COLUMN taskforce.evidence.source IS
    'where the evidence came from: a tool, model or document name';
COMMENT ON COLUMN taskforce.evidence.recorded_by IS
    'the user id of the context that recorded it';
SELECT taskforce.enable_tenant_isolation('taskforce.evidence');
SELECT pg_catalog.pg_extension_config_dump('taskforce.evidence', '');
-- Covered by the audit log: every record is an entry of the trail.
SELECT taskforce.enable_audit('taskforce.evidence', event_type => 'evidence');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.evidence
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.evidence IS
    'refuses inserts and updates of a deleted tenant''s rows';

-- The permission to record evidence: operators (who execute agents and
-- tools) hold it; admin holds every permission.
INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('evidence:write', 'record evidence', true);
UPDATE taskforce.system_roles
   SET permissions = permissions || 'evidence:write'::text
 WHERE role_name = 'operator';

CREATE FUNCTION taskforce.record_evidence(
    session_id text,
    evidence_type text,
    source text,
    content jsonb,
    metadata jsonb DEFAULT '{}')
    RETURNS uuid
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce.current_tenant();
    new_id uuid;
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'an authenticated context is required'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Authenticate first.';
    END IF;
    PERFORM taskforce.require_permission('evidence:write');
    IF record_evidence.session_id IS NULL OR record_evidence.evidence_type IS NULL
       OR record_evidence.content IS NULL OR record_evidence.metadata IS NULL THEN
        RAISE EXCEPTION 'session_id, evidence_type, content and metadata must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF record_evidence.session_id = '' THEN
        RAISE EXCEPTION 'session_id must not be empty'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF record_evidence.evidence_type NOT IN ('tool_result', 'llm_response', 'user_input', 'citation', 'decision') THEN
        RAISE EXCEPTION 'unknown evidence type "%"', record_evidence.evidence_type
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use tool_result, llm_response, user_input, citation or decision.';
    END IF;
    IF jsonb_typeof(record_evidence.metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    INSERT INTO taskforce.evidence AS e
           (tenant_id, session_id, evidence_type, source, content, metadata, recorded_by)
    VALUES (tenant, record_evidence.session_id, record_evidence.evidence_type,
            record_evidence.source, record_evidence.content, record_evidence.metadata,
            taskforce.current_user_id())
    RETURNING e.evidence_id INTO new_id;
    RETURN new_id;
END
$$;
COMMENT ON FUNCTION taskforce.record_evidence(text, text, text, jsonb, jsonb) IS
    'records evidence for the current context''s tenant and user and returns its id; needs evidence:write';
