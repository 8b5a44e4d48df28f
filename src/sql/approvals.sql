-- src/sql/approvals.sql: approval workflows and requests (issue 11; the
-- shared design is spec/LIFE_SPEC.md §4, the user's view docs/lifecycle_approvals.md).
-- A workflow says, per tenant and request type, how many approvals (N) from
-- which roles, optionally from how many distinct teams (K), approve a
-- request, and how many rejections (M) reject it.  A request copies those
-- rules when it is made and binds the content hash of what is to be
-- approved; the state-machine engine (state_machines.sql) lets a transition
-- that needs approval through only with an approved request for exactly the
-- row's current content (_approval_satisfied).  Making requests, voting,
-- expiry and "pending for me" are in approvals_actions.sql.  History stays forever:
-- nothing deletes a request or an action (offboarding aside).

INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('workflow:manage', 'manage approval workflows and webhook endpoints, and cancel any request', true);

CREATE TABLE taskforce.approval_workflows (
    tenant_id           text        NOT NULL,
    workflow_id         text        NOT NULL,
    name                text        NOT NULL,
    description         text        NOT NULL DEFAULT '',
    request_type        text        NOT NULL,
    required_approvals  integer     NOT NULL,
    required_rejections integer     NOT NULL DEFAULT 1,
    approver_roles      text[]      NOT NULL,
    min_distinct_teams  integer,
    expires_after       interval,
    allow_self_approval boolean     NOT NULL DEFAULT false,
    auto_apply          boolean     NOT NULL DEFAULT false,
    enabled             boolean     NOT NULL DEFAULT true,
    created_by          text        NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    updated_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    CONSTRAINT approval_workflows_pkey PRIMARY KEY (tenant_id, workflow_id),
    CONSTRAINT approval_workflows_tenant_fkey FOREIGN KEY (tenant_id)
        REFERENCES taskforce.tenants (tenant_id),
    CONSTRAINT approval_workflows_id_format CHECK (workflow_id ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$'),
    CONSTRAINT approval_workflows_name_present CHECK (pg_catalog.btrim(name) <> ''),
    CONSTRAINT approval_workflows_type_known CHECK (
        request_type IN ('agent_publish', 'data_export', 'permission_escalation')
        OR request_type ~ '^custom:[a-z][a-z0-9_]{0,62}$'),
    CONSTRAINT approval_workflows_approvals_positive CHECK (required_approvals >= 1),
    CONSTRAINT approval_workflows_rejections_positive CHECK (required_rejections >= 1),
    CONSTRAINT approval_workflows_roles_present CHECK (
        pg_catalog.cardinality(approver_roles) >= 1
        AND pg_catalog.array_position(approver_roles, NULL) IS NULL),
    CONSTRAINT approval_workflows_teams_range CHECK (
        min_distinct_teams BETWEEN 1 AND required_approvals),
    CONSTRAINT approval_workflows_expiry_positive CHECK (expires_after > '0'::interval),
    CONSTRAINT approval_workflows_auto_apply_type CHECK (NOT auto_apply OR request_type = 'agent_publish')
);
-- At most one enabled workflow per request type: it is the one a request
-- of that type follows.
CREATE UNIQUE INDEX approval_workflows_one_enabled
    ON taskforce.approval_workflows (tenant_id, request_type) WHERE enabled;
REVOKE ALL ON taskforce.approval_workflows FROM PUBLIC;
COMMENT ON TABLE taskforce.approval_workflows IS
    'approval workflows of each tenant: per request type, who approves (roles, N approvals, K distinct teams), who rejects (M rejections), expiry, self-approval and auto-apply; at most one enabled per request type';
COMMENT ON COLUMN taskforce.approval_workflows.request_type IS
    'agent_publish, data_export, permission_escalation or custom:<name>';
COMMENT ON COLUMN taskforce.approval_workflows.min_distinct_teams IS
    'K: the approvers must be matched to at least K distinct teams, one team per approver (null: no team rule)';
COMMENT ON COLUMN taskforce.approval_workflows.auto_apply IS
    'agent_publish only: the final approval approves and publishes the version in the same transaction';
SELECT pg_catalog.pg_extension_config_dump('taskforce.approval_workflows', '');

CREATE TABLE taskforce.approval_requests (
    tenant_id           text        NOT NULL,
    request_id          bigint      GENERATED ALWAYS AS IDENTITY,
    request_type        text        NOT NULL,
    workflow_id         text        NOT NULL,
    resource_type       text        NOT NULL,
    resource_id         text        NOT NULL,
    requester_id        text        NOT NULL,
    title               text        NOT NULL,
    description         text        NOT NULL DEFAULT '',
    payload             jsonb       NOT NULL DEFAULT '{}',
    content_hash        bytea,
    status              text        NOT NULL DEFAULT 'pending',
    required_approvals  integer     NOT NULL,
    required_rejections integer     NOT NULL,
    approver_roles      text[]      NOT NULL,
    min_distinct_teams  integer,
    allow_self_approval boolean     NOT NULL,
    auto_apply          boolean     NOT NULL,
    created_at          timestamptz NOT NULL DEFAULT pg_catalog.now(),
    expires_at          timestamptz,
    decided_at          timestamptz,
    CONSTRAINT approval_requests_pkey PRIMARY KEY (tenant_id, request_id),
    CONSTRAINT approval_requests_workflow_fkey FOREIGN KEY (tenant_id, workflow_id)
        REFERENCES taskforce.approval_workflows (tenant_id, workflow_id),
    CONSTRAINT approval_requests_status_known
        CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
    CONSTRAINT approval_requests_decided CHECK ((status = 'pending') = (decided_at IS NULL)),
    CONSTRAINT approval_requests_title_present CHECK (pg_catalog.btrim(title) <> ''),
    CONSTRAINT approval_requests_payload_object CHECK (pg_catalog.jsonb_typeof(payload) = 'object')
);
-- One pending request per resource and type (a second would split the votes).
CREATE UNIQUE INDEX approval_requests_one_pending
    ON taskforce.approval_requests (tenant_id, request_type, resource_type, resource_id)
    WHERE status = 'pending';
-- _approval_satisfied's lookup.
CREATE INDEX approval_requests_resource
    ON taskforce.approval_requests (tenant_id, resource_type, resource_id);
-- expire_requests' scan.
CREATE INDEX approval_requests_expiry
    ON taskforce.approval_requests (expires_at) WHERE status = 'pending';
REVOKE ALL ON taskforce.approval_requests FROM PUBLIC;
COMMENT ON TABLE taskforce.approval_requests IS
    'approval requests of each tenant, with the rules of their workflow copied when they were made and the content hash of what is to be approved; kept forever';
COMMENT ON COLUMN taskforce.approval_requests.resource_type IS
    'what the request is about: schema.table for a row of a table under a state machine, else the caller''s word';
COMMENT ON COLUMN taskforce.approval_requests.resource_id IS
    'which one: the row key {primary key column: value} as jsonb text for a table row, else the caller''s word';
COMMENT ON COLUMN taskforce.approval_requests.content_hash IS
    'the content that is approved: a transition needing approval passes only if the row''s content hash equals it';
COMMENT ON COLUMN taskforce.approval_requests.decided_at IS
    'when the request left pending (approved, rejected, expired or cancelled)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.approval_requests', '');
-- The identity sequence too, or a restored database would reuse request ids.
SELECT pg_catalog.pg_extension_config_dump('taskforce.approval_requests_request_id_seq', '');

CREATE TABLE taskforce.approval_actions (
    tenant_id    text        NOT NULL,
    request_id   bigint      NOT NULL,
    action_id    bigint      GENERATED ALWAYS AS IDENTITY,
    action       text        NOT NULL,
    actor_id     text        NOT NULL,
    actor_roles  text[]      NOT NULL,
    actor_teams  text[]      NOT NULL,
    content_hash bytea,
    comment      text,
    acted_at     timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp(),
    CONSTRAINT approval_actions_pkey PRIMARY KEY (tenant_id, action_id),
    CONSTRAINT approval_actions_request_fkey FOREIGN KEY (tenant_id, request_id)
        REFERENCES taskforce.approval_requests (tenant_id, request_id),
    CONSTRAINT approval_actions_action_known CHECK (action IN ('approve', 'reject', 'comment'))
);
-- One vote per person and request.
CREATE UNIQUE INDEX approval_actions_one_vote
    ON taskforce.approval_actions (tenant_id, request_id, actor_id) WHERE action IN ('approve', 'reject');
CREATE INDEX approval_actions_request ON taskforce.approval_actions (tenant_id, request_id, action_id);
REVOKE ALL ON taskforce.approval_actions FROM PUBLIC;
COMMENT ON TABLE taskforce.approval_actions IS
    'votes (approve, reject) and comments on approval requests, with the actor''s roles and teams at the time; kept forever';
COMMENT ON COLUMN taskforce.approval_actions.actor_teams IS
    'the teams the actor belonged to when acting: the K-distinct-teams rule matches approvers to these';
COMMENT ON COLUMN taskforce.approval_actions.content_hash IS
    'the content hash of the resource when the actor acted (null when it cannot be computed: not a table row)';
SELECT pg_catalog.pg_extension_config_dump('taskforce.approval_actions', '');
SELECT pg_catalog.pg_extension_config_dump('taskforce.approval_actions_action_id_seq', '');

-- A deleted tenant refuses every write (deleted_tenants.sql).
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.approval_workflows
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.approval_requests
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.approval_actions
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.approval_workflows IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.approval_requests IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.approval_actions IS
    'refuses inserts and updates of a deleted tenant''s rows';

SELECT taskforce.enable_tenant_isolation(t)
  FROM (VALUES ('taskforce.approval_workflows'::regclass), ('taskforce.approval_requests'),
               ('taskforce.approval_actions')) AS v(t);
SELECT taskforce.enable_audit(t)
  FROM (VALUES ('taskforce.approval_workflows'::regclass), ('taskforce.approval_requests'),
               ('taskforce.approval_actions')) AS v(t);

-- Raises invalid_parameter_value unless request_type is a known type.
CREATE FUNCTION taskforce._approval_check_type(request_type text)
    RETURNS void
    LANGUAGE plpgsql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF request_type IS NULL THEN
        RAISE EXCEPTION 'request_type must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF NOT (request_type IN ('agent_publish', 'data_export', 'permission_escalation')
            OR request_type ~ '^custom:[a-z][a-z0-9_]{0,62}$') THEN
        RAISE EXCEPTION 'invalid request_type "%"', request_type
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use one of: agent_publish, data_export, permission_escalation, custom:<name> (name: a lower-case letter, then up to 62 lower-case letters, digits or _).';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_check_type(text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_check_type(text) IS
    'internal: invalid_parameter_value with the valid request types unless the type is one';

-- Checks a workflow's rules as they will be stored (after an update's
-- defaults are filled in): the roles exist (system roles or the tenant's).
CREATE FUNCTION taskforce._approval_check_rules(
    tenant_id text, request_type text, required_approvals integer, required_rejections integer,
    approver_roles text[], min_distinct_teams integer, expires_after interval, auto_apply boolean)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    unknown text;
BEGIN
    IF required_approvals IS NULL OR required_rejections IS NULL OR approver_roles IS NULL
       OR auto_apply IS NULL THEN
        RAISE EXCEPTION 'required_approvals, required_rejections, approver_roles and auto_apply must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF required_approvals < 1 OR required_rejections < 1 THEN
        RAISE EXCEPTION 'required_approvals and required_rejections must be at least 1'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF cardinality(approver_roles) = 0 OR array_position(approver_roles, NULL) IS NOT NULL THEN
        RAISE EXCEPTION 'approver_roles must name at least one role and no null'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT string_agg(format('"%s"', r), ', ' ORDER BY r) INTO unknown
      FROM unnest(approver_roles) AS r
     WHERE NOT EXISTS (SELECT FROM taskforce.system_roles AS s WHERE s.role_name = r)
       AND NOT EXISTS (SELECT FROM taskforce.roles AS c
                        WHERE c.tenant_id = _approval_check_rules.tenant_id AND c.role_name = r);
    IF unknown IS NOT NULL THEN
        RAISE EXCEPTION 'approver_roles names roles that do not exist in tenant "%": %', tenant_id, unknown
            USING ERRCODE = 'undefined_object',
                  HINT = 'Name system roles (admin, agent_designer, operator, auditor, viewer) or roles made with taskforce.create_role().';
    END IF;
    IF min_distinct_teams IS NOT NULL AND (min_distinct_teams < 1 OR min_distinct_teams > required_approvals) THEN
        RAISE EXCEPTION 'min_distinct_teams must be between 1 and required_approvals (%)', required_approvals
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Each approver counts for one team, so K teams need at least K approvals.';
    END IF;
    IF expires_after IS NOT NULL AND expires_after <= '0'::interval THEN
        RAISE EXCEPTION 'expires_after must be positive'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF auto_apply AND request_type <> 'agent_publish' THEN
        RAISE EXCEPTION 'auto_apply is available only for agent_publish workflows'
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Apply other approved requests in the application, or through a state machine transition that needs the approval.';
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_check_rules(text, text, integer, integer, text[], integer, interval, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_check_rules(text, text, integer, integer, text[], integer, interval, boolean) IS
    'internal: invalid_parameter_value or undefined_object for rules a workflow cannot have';

-- Returns the workflow row, locked, or raises undefined_object.
CREATE FUNCTION taskforce._lock_workflow(tenant_id text, workflow_id text)
    RETURNS taskforce.approval_workflows
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    w taskforce.approval_workflows;
BEGIN
    IF workflow_id IS NULL THEN
        RAISE EXCEPTION 'workflow_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO w FROM taskforce.approval_workflows AS x
     WHERE x.tenant_id = _lock_workflow.tenant_id AND x.workflow_id = _lock_workflow.workflow_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'workflow "%" does not exist in tenant "%"', workflow_id, tenant_id
            USING ERRCODE = 'undefined_object';
    END IF;
    RETURN w;
END
$$;
REVOKE ALL ON FUNCTION taskforce._lock_workflow(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._lock_workflow(text, text) IS
    'internal: locks and returns a workflow, or raises undefined_object';

CREATE FUNCTION taskforce.create_workflow(
    workflow_id text,
    name text,
    request_type text,
    required_approvals integer,
    approver_roles text[],
    description text DEFAULT '',
    required_rejections integer DEFAULT 1,
    min_distinct_teams integer DEFAULT NULL,
    expires_after interval DEFAULT NULL,
    allow_self_approval boolean DEFAULT false,
    auto_apply boolean DEFAULT false,
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.approval_workflows
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('workflow:manage', tenant_id);
    w taskforce.approval_workflows;
BEGIN
    IF create_workflow.workflow_id IS NULL OR create_workflow.name IS NULL
       OR create_workflow.allow_self_approval IS NULL THEN
        RAISE EXCEPTION 'workflow_id, name and allow_self_approval must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF create_workflow.workflow_id !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$' THEN
        RAISE EXCEPTION 'invalid workflow_id "%"', create_workflow.workflow_id
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'A workflow_id has 1 to 128 letters, digits, _ . : or -, starting with a letter or digit.';
    END IF;
    IF pg_catalog.btrim(create_workflow.name) = '' THEN
        RAISE EXCEPTION 'a workflow name must not be blank' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM taskforce._approval_check_type(create_workflow.request_type);
    PERFORM taskforce._approval_check_rules(tenant, create_workflow.request_type,
        create_workflow.required_approvals, create_workflow.required_rejections,
        create_workflow.approver_roles, create_workflow.min_distinct_teams,
        create_workflow.expires_after, create_workflow.auto_apply);
    IF EXISTS (SELECT FROM taskforce.approval_workflows AS x
                WHERE x.tenant_id = tenant AND x.workflow_id = create_workflow.workflow_id) THEN
        RAISE EXCEPTION 'workflow "%" already exists in tenant "%"', create_workflow.workflow_id, tenant
            USING ERRCODE = 'duplicate_object';
    END IF;
    PERFORM taskforce._approval_check_one_enabled(tenant, create_workflow.request_type, create_workflow.workflow_id);
    BEGIN
        INSERT INTO taskforce.approval_workflows (tenant_id, workflow_id, name, description, request_type,
            required_approvals, required_rejections, approver_roles, min_distinct_teams, expires_after,
            allow_self_approval, auto_apply, created_by)
        VALUES (tenant, create_workflow.workflow_id, create_workflow.name,
                coalesce(create_workflow.description, ''), create_workflow.request_type,
                create_workflow.required_approvals, create_workflow.required_rejections,
                create_workflow.approver_roles, create_workflow.min_distinct_teams,
                create_workflow.expires_after, create_workflow.allow_self_approval,
                create_workflow.auto_apply, coalesce(taskforce.current_user_id(), session_user::text))
        RETURNING * INTO w;
    EXCEPTION
        WHEN unique_violation THEN
            -- A concurrent create_workflow won the race.
            RAISE EXCEPTION 'workflow "%" or another enabled "%" workflow already exists in tenant "%"',
                            create_workflow.workflow_id, create_workflow.request_type, tenant
                USING ERRCODE = 'duplicate_object';
    END;
    RETURN w;
END
$$;
COMMENT ON FUNCTION taskforce.create_workflow(text, text, text, integer, text[], text, integer, integer, interval, boolean, boolean, text) IS
    'creates an enabled approval workflow for a request type of the current tenant (at most one enabled per type); needs workflow:manage';

-- Raises duplicate_object if another enabled workflow has the request type.
CREATE FUNCTION taskforce._approval_check_one_enabled(tenant_id text, request_type text, workflow_id text)
    RETURNS void
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    other text;
BEGIN
    SELECT x.workflow_id INTO other FROM taskforce.approval_workflows AS x
     WHERE x.tenant_id = _approval_check_one_enabled.tenant_id
       AND x.request_type = _approval_check_one_enabled.request_type
       AND x.enabled AND x.workflow_id <> _approval_check_one_enabled.workflow_id;
    IF FOUND THEN
        RAISE EXCEPTION 'workflow "%" is already enabled for request type "%" in tenant "%"',
                        other, request_type, tenant_id
            USING ERRCODE = 'duplicate_object',
                  HINT = format('Disable it first with taskforce.disable_workflow(%L), or change it with taskforce.update_workflow().', other);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_check_one_enabled(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_check_one_enabled(text, text, text) IS
    'internal: duplicate_object if another workflow is enabled for the request type';

CREATE FUNCTION taskforce.update_workflow(
    workflow_id text,
    name text DEFAULT NULL,
    description text DEFAULT NULL,
    required_approvals integer DEFAULT NULL,
    required_rejections integer DEFAULT NULL,
    approver_roles text[] DEFAULT NULL,
    min_distinct_teams integer DEFAULT NULL,
    expires_after interval DEFAULT NULL,
    allow_self_approval boolean DEFAULT NULL,
    auto_apply boolean DEFAULT NULL,
    enabled boolean DEFAULT NULL,
    clear text[] DEFAULT '{}',
    tenant_id text DEFAULT NULL)
    RETURNS taskforce.approval_workflows
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('workflow:manage', tenant_id);
    w taskforce.approval_workflows := taskforce._lock_workflow(tenant, workflow_id);
BEGIN
    PERFORM taskforce._check_clear(clear, ARRAY['min_distinct_teams', 'expires_after'],
        ARRAY[CASE WHEN update_workflow.min_distinct_teams IS NOT NULL THEN 'min_distinct_teams' END,
              CASE WHEN update_workflow.expires_after IS NOT NULL THEN 'expires_after' END]);
    IF pg_catalog.btrim(update_workflow.name) = '' THEN
        RAISE EXCEPTION 'a workflow name must not be blank' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    w.name := coalesce(update_workflow.name, w.name);
    w.description := coalesce(update_workflow.description, w.description);
    w.required_approvals := coalesce(update_workflow.required_approvals, w.required_approvals);
    w.required_rejections := coalesce(update_workflow.required_rejections, w.required_rejections);
    w.approver_roles := coalesce(update_workflow.approver_roles, w.approver_roles);
    w.min_distinct_teams := CASE WHEN 'min_distinct_teams' = ANY (clear) THEN NULL
                                 ELSE coalesce(update_workflow.min_distinct_teams, w.min_distinct_teams) END;
    w.expires_after := CASE WHEN 'expires_after' = ANY (clear) THEN NULL
                            ELSE coalesce(update_workflow.expires_after, w.expires_after) END;
    w.allow_self_approval := coalesce(update_workflow.allow_self_approval, w.allow_self_approval);
    w.auto_apply := coalesce(update_workflow.auto_apply, w.auto_apply);
    w.enabled := coalesce(update_workflow.enabled, w.enabled);
    PERFORM taskforce._approval_check_rules(tenant, w.request_type, w.required_approvals,
        w.required_rejections, w.approver_roles, w.min_distinct_teams, w.expires_after, w.auto_apply);
    IF w.enabled THEN
        PERFORM taskforce._approval_check_one_enabled(tenant, w.request_type, w.workflow_id);
    END IF;
    BEGIN
        UPDATE taskforce.approval_workflows AS x
           SET name = w.name, description = w.description,
               required_approvals = w.required_approvals, required_rejections = w.required_rejections,
               approver_roles = w.approver_roles, min_distinct_teams = w.min_distinct_teams,
               expires_after = w.expires_after, allow_self_approval = w.allow_self_approval,
               auto_apply = w.auto_apply, enabled = w.enabled, updated_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.workflow_id = update_workflow.workflow_id
        RETURNING * INTO w;
    EXCEPTION
        WHEN unique_violation THEN
            RAISE EXCEPTION 'another workflow is already enabled for request type "%" in tenant "%"',
                            w.request_type, tenant
                USING ERRCODE = 'duplicate_object';
    END;
    RETURN w;
END
$$;
COMMENT ON FUNCTION taskforce.update_workflow(text, text, text, integer, integer, text[], integer, interval, boolean, boolean, boolean, text[], text) IS
    'changes a workflow''s rules for requests made from now on (pending requests keep the rules they were made with; nulls leave a field as is; clear names min_distinct_teams or expires_after to set to null); needs workflow:manage';

CREATE FUNCTION taskforce.disable_workflow(workflow_id text, tenant_id text DEFAULT NULL)
    RETURNS taskforce.approval_workflows
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize('workflow:manage', tenant_id);
    w taskforce.approval_workflows := taskforce._lock_workflow(tenant, workflow_id);
BEGIN
    UPDATE taskforce.approval_workflows AS x
       SET enabled = false, updated_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.workflow_id = disable_workflow.workflow_id
    RETURNING * INTO w;
    RETURN w;
END
$$;
COMMENT ON FUNCTION taskforce.disable_workflow(text, text) IS
    'disables a workflow: no new requests follow it and transitions no longer need its approval (its pending requests can still be decided); needs workflow:manage';

-- An approver role is power no permission names: a context that may grant
-- roles (role:manage; the permissions of the role held) would otherwise
-- make itself, or anyone, an approver.  Granting a role that the tenant's
-- enabled workflows or pending requests name as an approver role needs
-- workflow:manage too.  Without a context (an administrator) it is allowed.
CREATE FUNCTION taskforce._approval_check_role_grant() RETURNS trigger
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF taskforce.current_tenant() IS NULL
       OR (TG_OP = 'UPDATE' AND NEW.role_name = OLD.role_name AND NEW.user_id = OLD.user_id
           AND NEW.tenant_id = OLD.tenant_id
           AND (NEW.expires_at IS NOT DISTINCT FROM OLD.expires_at
                OR (OLD.expires_at IS NOT NULL AND NEW.expires_at <= OLD.expires_at)))
       OR taskforce.has_permission('workflow:manage') THEN
        RETURN NEW;
    END IF;
    IF EXISTS (SELECT FROM taskforce.approval_workflows AS w
                WHERE w.tenant_id = NEW.tenant_id AND w.enabled AND NEW.role_name = ANY (w.approver_roles))
       OR EXISTS (SELECT FROM taskforce.approval_requests AS r
                   WHERE r.tenant_id = NEW.tenant_id AND r.status = 'pending'
                     AND NEW.role_name = ANY (r.approver_roles)) THEN
        RAISE EXCEPTION 'role "%" approves requests of tenant "%": granting it needs permission "workflow:manage"',
                        NEW.role_name, NEW.tenant_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Approvers are chosen by those who manage the workflows.';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_check_role_grant() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_check_role_grant() IS
    'internal: trigger refusing (42501) a grant of an approver role by a context without workflow:manage';
CREATE TRIGGER approval_role_grant BEFORE INSERT OR UPDATE ON taskforce.role_grants
    FOR EACH ROW EXECUTE FUNCTION taskforce._approval_check_role_grant();
COMMENT ON TRIGGER approval_role_grant ON taskforce.role_grants IS
    'refuses a grant of an approver role (named by an enabled workflow or a pending request) without workflow:manage';

-- Whether the tenant has an enabled workflow of the request type: the
-- state-machine engine asks before requiring an approved request.
CREATE FUNCTION taskforce._workflow_exists(tenant_id text, request_type text)
    RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (SELECT FROM taskforce.approval_workflows AS w
                    WHERE w.tenant_id = _workflow_exists.tenant_id
                      AND w.request_type = _workflow_exists.request_type AND w.enabled)
$$;
REVOKE ALL ON FUNCTION taskforce._workflow_exists(text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._workflow_exists(text, text) IS
    'internal: whether the tenant has an enabled approval workflow of the request type';

-- Whether an approved request of the tenant and type for the resource
-- binds exactly this content: the engine's check before a transition that
-- needs approval.
CREATE FUNCTION taskforce._approval_satisfied(tenant_id text, request_type text, resource_type text,
                                              resource_id text, content_hash bytea)
    RETURNS boolean
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT EXISTS (SELECT FROM taskforce.approval_requests AS r
                    WHERE r.tenant_id = _approval_satisfied.tenant_id
                      AND r.resource_type = _approval_satisfied.resource_type
                      AND r.resource_id = _approval_satisfied.resource_id
                      AND r.request_type = _approval_satisfied.request_type
                      AND r.status = 'approved'
                      AND r.content_hash = _approval_satisfied.content_hash)
$$;
REVOKE ALL ON FUNCTION taskforce._approval_satisfied(text, text, text, text, bytea) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_satisfied(text, text, text, text, bytea) IS
    'internal: whether an approved request of the tenant, type and resource binds exactly this content hash';
