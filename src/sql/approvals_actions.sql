-- src/sql/approvals_actions.sql: making and acting on approval requests
-- (issue 11; spec/LIFE_SPEC.md §4): request, approve, reject, comment,
-- cancel, expire, and what the current user may act on.  Every vote runs
-- the rules in one function (_act_on_request) under a lock on the request
-- row, so concurrent votes decide a request exactly once.

CREATE FUNCTION taskforce.request_approval(
    request_type text,
    resource_type text,
    resource_id text,
    title text,
    description text DEFAULT '',
    payload jsonb DEFAULT '{}',
    content_hash bytea DEFAULT NULL,
    tenant_id text DEFAULT NULL)
    RETURNS bigint
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce._authorize(NULL, tenant_id);
    w taskforce.approval_workflows;
    r taskforce.approval_requests;
    existing taskforce.approval_requests;
    row_hash record;
BEGIN
    PERFORM taskforce._approval_check_type(request_approval.request_type);
    IF request_approval.resource_type IS NULL OR request_approval.resource_id IS NULL
       OR request_approval.title IS NULL THEN
        RAISE EXCEPTION 'resource_type, resource_id and title must not be null'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF pg_catalog.btrim(request_approval.resource_type) = '' OR pg_catalog.btrim(request_approval.resource_id) = ''
       OR pg_catalog.btrim(request_approval.title) = '' THEN
        RAISE EXCEPTION 'resource_type, resource_id and title must not be blank'
            USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF request_approval.payload IS NOT NULL AND jsonb_typeof(request_approval.payload) <> 'object' THEN
        RAISE EXCEPTION 'payload must be a JSON object' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    -- Requests are kept forever and copied into every webhook delivery.
    IF octet_length(request_approval.title) > 1000 OR octet_length(request_approval.description) > 100000
       OR octet_length(request_approval.payload::text) > 1000000 THEN
        RAISE EXCEPTION 'approval request too large'
            USING ERRCODE = 'program_limit_exceeded',
                  DETAIL = 'A title has at most 1000 bytes, a description 100000, a payload 1000000 as JSON text.';
    END IF;
    -- The workflow is read under a share lock: a concurrent update or
    -- disable waits for this request (or this request for it).
    SELECT * INTO w FROM taskforce.approval_workflows AS x
     WHERE x.tenant_id = tenant AND x.request_type = request_approval.request_type AND x.enabled
       FOR SHARE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" has no enabled workflow for request type "%"', tenant, request_approval.request_type
            USING ERRCODE = 'undefined_object',
                  HINT = 'An administrator creates one with taskforce.create_workflow().';
    END IF;
    -- An overdue pending request of the same resource expires now, so that
    -- it does not block the new one.
    PERFORM taskforce._expire_request(x, false)
       FROM taskforce.approval_requests AS x
      WHERE x.tenant_id = tenant AND x.request_type = request_approval.request_type
        AND x.resource_type = request_approval.resource_type
        AND x.resource_id = request_approval.resource_id
        AND x.status = 'pending' AND x.expires_at <= pg_catalog.now();
    -- A table row's request binds the row's current content: no other
    -- content_hash is accepted.
    row_hash := taskforce._approval_resource_hash(tenant, request_approval.resource_type,
                                                  request_approval.resource_id);
    IF row_hash.checkable THEN
        IF row_hash.current_hash IS NULL THEN
            RAISE EXCEPTION 'no row of "%" has the key %', request_approval.resource_type, request_approval.resource_id
                USING ERRCODE = 'undefined_object';
        END IF;
        IF request_approval.content_hash IS DISTINCT FROM row_hash.current_hash THEN
            RAISE EXCEPTION 'content_hash is not the current content hash of % %',
                            request_approval.resource_type, request_approval.resource_id
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Request approval of a row with request_approval(tbl, row_key, title).';
        END IF;
        -- A request for a row is for a transition it can make now: asking
        -- ahead (a draft agent version, say) would let someone other than
        -- whoever moves it on be the requester, and its author approve.
        IF NOT EXISTS (SELECT FROM taskforce.state_machine_attachments AS a
                         JOIN taskforce.state_machine_transitions AS t ON t.machine = a.machine
                        WHERE taskforce._audit_object(a.tbl) = request_approval.resource_type
                          AND t.from_state = row_hash.current_state
                          AND t.approval_type = request_approval.request_type) THEN
            RAISE EXCEPTION 'no transition of % out of state "%" needs a "%" approval',
                            request_approval.resource_type, row_hash.current_state, request_approval.request_type
                USING ERRCODE = 'object_not_in_prerequisite_state',
                      HINT = 'Request approval when the row is in the state the approved transition leaves.';
        END IF;
    END IF;
    -- A pending request of the same resource: for a table row, one for the
    -- same (current) content is this request (the row was withdrawn and
    -- submitted again unchanged); one for other content can never be
    -- approved (the content it binds is gone), and this one supersedes it.
    -- For other resources it is a duplicate.
    SELECT * INTO existing FROM taskforce.approval_requests AS x
     WHERE x.tenant_id = tenant AND x.request_type = request_approval.request_type
       AND x.resource_type = request_approval.resource_type
       AND x.resource_id = request_approval.resource_id AND x.status = 'pending'
       FOR UPDATE;
    IF FOUND THEN
        IF NOT row_hash.checkable THEN
            RAISE EXCEPTION 'request % for this resource is already pending', existing.request_id
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Wait for it to be decided, or cancel it with taskforce.cancel_request().';
        END IF;
        IF existing.content_hash IS NOT DISTINCT FROM row_hash.current_hash THEN
            RETURN existing.request_id;
        END IF;
        UPDATE taskforce.approval_requests AS x SET status = 'cancelled', decided_at = pg_catalog.now()
         WHERE x.tenant_id = tenant AND x.request_id = existing.request_id;
    END IF;
    BEGIN
        INSERT INTO taskforce.approval_requests (tenant_id, request_type, workflow_id, resource_type,
            resource_id, requester_id, title, description, payload, content_hash, required_approvals,
            required_rejections, approver_roles, min_distinct_teams, allow_self_approval, auto_apply,
            expires_at)
        VALUES (tenant, request_approval.request_type, w.workflow_id, request_approval.resource_type,
                request_approval.resource_id, coalesce(taskforce.current_user_id(), session_user::text),
                request_approval.title, coalesce(request_approval.description, ''),
                coalesce(request_approval.payload, '{}'), request_approval.content_hash,
                w.required_approvals, w.required_rejections, w.approver_roles, w.min_distinct_teams,
                w.allow_self_approval, w.auto_apply, pg_catalog.now() + w.expires_after)
        RETURNING * INTO r;
    EXCEPTION
        WHEN unique_violation THEN
            -- A concurrent request for the same resource won the race.
            RAISE EXCEPTION 'a request for this resource is already pending'
                USING ERRCODE = 'duplicate_object',
                      HINT = 'Wait for it to be decided, or cancel it with taskforce.cancel_request().';
    END;
    PERFORM taskforce._emit_event(tenant, 'request_created', jsonb_build_object(
        'request_id', r.request_id, 'tenant_id', r.tenant_id, 'request_type', r.request_type,
        'resource_type', r.resource_type, 'resource_id', r.resource_id,
        'requester_id', r.requester_id, 'title', r.title, 'expires_at', r.expires_at));
    RETURN r.request_id;
END
$$;
COMMENT ON FUNCTION taskforce.request_approval(text, text, text, text, text, jsonb, bytea, text) IS
    'asks for approval of a resource under the tenant''s enabled workflow of the request type (its rules are copied into the request); the context user is the requester; returns the request id (for a table row with a pending request for the same content: that one; for other content the pending one is superseded)';

-- The row key {primary key column: value} (tenant column left out) of the
-- row of tbl that row_key names, as the state-machine engine and the audit
-- trail write it, its state and its tenant (null if the table has no
-- tenant_id column).  row_key names the primary key columns; tenant_id may
-- be among them, and defaults to the context's tenant.  undefined_object
-- unless the caller sees exactly one such row.  Runs as the caller
-- (callable by anyone): row security and the table's privileges apply.
CREATE FUNCTION taskforce._approval_row(tbl regclass, row_key jsonb, state_column name,
                                        OUT resource_id text, OUT state text, OUT tenant_id text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    key_columns name[];
    given text[];
    has_tenant boolean;
    tenant text;
    conditions text;
BEGIN
    SELECT array_agg(a.attname ORDER BY a.attname) INTO key_columns
      FROM pg_index AS i
      JOIN pg_attribute AS a ON a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)
     WHERE i.indrelid = tbl AND i.indisprimary AND a.attname <> 'tenant_id';
    IF key_columns IS NULL THEN
        RAISE EXCEPTION 'table "%" has no primary key columns besides tenant_id', tbl
            USING ERRCODE = 'invalid_column_reference';
    END IF;
    has_tenant := EXISTS (SELECT FROM pg_attribute AS a
                           WHERE a.attrelid = tbl AND a.attname = 'tenant_id' AND NOT a.attisdropped);
    SELECT array_agg(k ORDER BY k) INTO given
      FROM jsonb_object_keys(CASE WHEN jsonb_typeof(row_key) = 'object' THEN row_key END) AS k
     WHERE NOT (has_tenant AND k = 'tenant_id');
    IF given IS DISTINCT FROM key_columns::text[] THEN
        RAISE EXCEPTION 'row_key must name exactly the primary key columns of "%"', tbl
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = format('Name the row by its primary key as a JSON object with the keys: %s%s.',
                                array_to_string(key_columns, ', '),
                                CASE WHEN has_tenant THEN ' (and tenant_id, by default the context''s)' ELSE '' END);
    END IF;
    IF has_tenant THEN
        tenant := coalesce(row_key ->> 'tenant_id', taskforce.current_tenant());
    END IF;
    SELECT string_agg(format('t.%1$I = (jsonb_populate_record(NULL::%2$s, $1)).%1$I', c, tbl), ' AND ')
      INTO conditions FROM unnest(key_columns) AS c;
    IF tenant IS NOT NULL THEN
        conditions := conditions || ' AND t.tenant_id::text = $3';
    END IF;
    BEGIN
        EXECUTE format('SELECT (SELECT jsonb_object_agg(k, v) FROM jsonb_each(to_jsonb(t)) AS e(k, v)
                                 WHERE k = ANY ($2))::text, t.%I::text, to_jsonb(t) ->> ''tenant_id''
                          FROM %s AS t WHERE %s', state_column, tbl, conditions)
            INTO STRICT resource_id, state, tenant_id USING row_key, key_columns::text[], tenant;
    EXCEPTION
        WHEN no_data_found THEN
            RAISE EXCEPTION 'no row of "%" has the key %', tbl, row_key
                USING ERRCODE = 'undefined_object';
        WHEN too_many_rows THEN
            RAISE EXCEPTION 'several rows of "%" have the key %', tbl, row_key
                USING ERRCODE = 'invalid_parameter_value',
                      HINT = 'Name the tenant: add "tenant_id" to row_key.';
        WHEN invalid_text_representation OR datatype_mismatch OR numeric_value_out_of_range THEN
            RAISE EXCEPTION 'no row of "%" has the key %', tbl, row_key
                USING ERRCODE = 'undefined_object',
                      DETAIL = SQLERRM;
    END;
END
$$;
COMMENT ON FUNCTION taskforce._approval_row(regclass, jsonb, name) IS
    'internal: the row key text, state and tenant of one row of a table under a state machine, as the caller sees it';

-- The request for a row of a table under a state machine: the type is the
-- approval type of the transitions out of the row's current state, the
-- resource the row (schema.table and its row key), the content its content
-- hash (state_machines.sql's content_hash).  The requester is the context's
-- user, the tenant the context's (a row of another tenant is not found);
-- an administrator without context requests for the row's tenant.  Runs as
-- the caller, so that it finds only a row the caller sees; request_approval
-- then checks the rest.  No tenant_id argument: with one, a call of the
-- other form with six untyped literals would be ambiguous.
CREATE FUNCTION taskforce.request_approval(
    tbl regclass,
    row_key jsonb,
    title text,
    description text DEFAULT '',
    payload jsonb DEFAULT '{}')
    RETURNS bigint
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    context_tenant text := taskforce.current_tenant();
    attachment record;
    found_row record;
    types text[];
BEGIN
    IF tbl IS NULL OR row_key IS NULL THEN
        RAISE EXCEPTION 'tbl and row_key must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT a.column_name, a.machine INTO attachment
      FROM taskforce.state_machine_attachments AS a WHERE a.tbl = request_approval.tbl;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'table "%" has no state machine', tbl
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Attach one with taskforce.attach_state_machine(); approvals of other resources name them with request_approval(request_type, resource_type, resource_id, title).';
    END IF;
    found_row := taskforce._approval_row(tbl, row_key, attachment.column_name);
    IF context_tenant IS NOT NULL AND found_row.tenant_id IS DISTINCT FROM context_tenant
       AND found_row.tenant_id IS NOT NULL THEN
        RAISE EXCEPTION 'no row of "%" has the key %', tbl, row_key
            USING ERRCODE = 'undefined_object';
    END IF;
    SELECT array_agg(DISTINCT t.approval_type ORDER BY t.approval_type) INTO types
      FROM taskforce.state_machine_transitions AS t
     WHERE t.machine = attachment.machine AND t.from_state = found_row.state
       AND t.approval_type IS NOT NULL;
    IF types IS NULL THEN
        RAISE EXCEPTION 'no transition of "%" out of state "%" needs approval', tbl, found_row.state
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    IF cardinality(types) > 1 THEN
        RAISE EXCEPTION 'transitions of "%" out of state "%" need approvals of several types: %',
                        tbl, found_row.state, array_to_string(types, ', ')
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Request each with request_approval(request_type, resource_type, resource_id, title, content_hash => taskforce.content_hash(tbl, row_key)).';
    END IF;
    -- Without a context (an administrator), the row's tenant.
    RETURN taskforce.request_approval(types[1], taskforce._audit_object(tbl), found_row.resource_id,
                                      title, description, payload,
                                      taskforce.content_hash(tbl, row_key
                                          || CASE WHEN found_row.tenant_id IS NOT NULL
                                                  THEN jsonb_build_object('tenant_id', found_row.tenant_id)
                                                  ELSE '{}' END),
                                      CASE WHEN context_tenant IS NULL THEN found_row.tenant_id END);
END
$$;
COMMENT ON FUNCTION taskforce.request_approval(regclass, jsonb, text, text, jsonb) IS
    'asks for approval of a row ({primary key column: value}) of a table under a state machine, as the context user: the type is the approval type of the transitions out of its state, the content hash binds its current content; returns the request id';

-- The size of a maximum matching of approvers to teams: each approver
-- counts for at most one of its teams and each team for at most one
-- approver, so an approver in two teams cannot stand for both (counting
-- the distinct teams of the approvers would let it).  approver_teams is a
-- JSON array with one element per approver, the array of its team ids.
-- Kuhn's algorithm: for each approver, a breadth-first search for an
-- augmenting path (free team reached through alternating matched edges),
-- then the path is flipped; a handful of approvers, so plain PL/pgSQL.
CREATE FUNCTION taskforce._approval_team_matching(approver_teams jsonb)
    RETURNS integer
    LANGUAGE plpgsql IMMUTABLE STRICT
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    n integer := jsonb_array_length(approver_teams);
    team_owner jsonb := '{}';           -- team -> approver (1-based) matched to it
    approver_team text[] := array_fill(NULL::text, ARRAY[greatest(n, 1)]);
    reached_from jsonb;                 -- team -> approver the search reached it from
    queue integer[];
    head integer;
    a integer;
    t text;
    free_team text;
    previous text;
    size integer := 0;
BEGIN
    FOR root IN 1 .. n LOOP
        reached_from := '{}';
        queue := ARRAY[root];
        head := 1;
        free_team := NULL;
        WHILE head <= cardinality(queue) AND free_team IS NULL LOOP
            a := queue[head];
            head := head + 1;
            FOR t IN SELECT jsonb_array_elements_text(approver_teams -> (a - 1)) LOOP
                CONTINUE WHEN reached_from ? t;
                reached_from := reached_from || jsonb_build_object(t, a);
                IF NOT team_owner ? t THEN
                    free_team := t;
                    EXIT;
                END IF;
                -- A matched team: try to move its approver to another team.
                queue := queue || (team_owner ->> t)::integer;
            END LOOP;
        END LOOP;
        -- Flip the path: each approver on it takes the team after it.
        t := free_team;
        WHILE t IS NOT NULL LOOP
            a := (reached_from ->> t)::integer;
            previous := approver_team[a];
            approver_team[a] := t;
            team_owner := team_owner || jsonb_build_object(t, a);
            t := previous;
        END LOOP;
        IF free_team IS NOT NULL THEN
            size := size + 1;
        END IF;
    END LOOP;
    RETURN size;
END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_team_matching(jsonb) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_team_matching(jsonb) IS
    'internal: the number of distinct teams the approvers can stand for, one team each (maximum bipartite matching); input: one JSON array of team ids per approver';

-- The roles the context user acts with: its role grants that have not
-- expired and the roles its credential asserted, except an API key's
-- (_acl_context_roles), as for ACLs.  None for a context limited to
-- permission scopes (a read-only API key, a scoped token): a vote is not
-- within any permission scope, and the credential must not reach past its
-- scopes with its user's roles.
CREATE FUNCTION taskforce._approval_actor_roles()
    RETURNS text[]
    LANGUAGE sql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT coalesce(array_agg(DISTINCT r ORDER BY r), '{}')
      FROM (SELECT g.role_name AS r FROM taskforce.role_grants AS g
             WHERE g.tenant_id = taskforce.current_tenant() AND g.user_id = taskforce.current_user_id()
               AND (g.expires_at IS NULL OR g.expires_at > pg_catalog.now())
            UNION
            SELECT unnest(taskforce._acl_context_roles())) AS x
     WHERE r IS NOT NULL AND (taskforce.current_context()).permission_scopes IS NULL
$$;
REVOKE ALL ON FUNCTION taskforce._approval_actor_roles() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_actor_roles() IS
    'internal: the roles the context user acts on requests with (role grants, and asserted roles except an API key''s; none when the context is limited to permission scopes)';

-- The current content hash of a resource when it is a row of a table
-- under a state machine (checkable), null if there is no such row of the
-- tenant; not checkable for other resources.  Runs as the owner (through
-- the SECURITY DEFINER callers), so the tenant is named in the key.
CREATE FUNCTION taskforce._approval_resource_hash(tenant_id text, resource_type text, resource_id text,
                                                  OUT checkable boolean, OUT current_hash bytea,
                                                  OUT current_state text)
    LANGUAGE plpgsql STABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tbl regclass;
    row_key jsonb;
BEGIN
    SELECT a.tbl INTO tbl FROM taskforce.state_machine_attachments AS a
     WHERE taskforce._audit_object(a.tbl) = resource_type;
    checkable := FOUND;
    IF checkable THEN
        BEGIN
            -- The resource id leaves tenant_id out; the row is the tenant's.
            row_key := resource_id::jsonb
                || CASE WHEN EXISTS (SELECT FROM pg_attribute AS a
                                      WHERE a.attrelid = tbl AND a.attname = 'tenant_id' AND NOT a.attisdropped)
                        THEN jsonb_build_object('tenant_id', tenant_id) ELSE '{}' END;
            current_hash := taskforce.content_hash(tbl, row_key);
            current_state := taskforce._row_state(tbl, row_key);
        EXCEPTION
            WHEN undefined_object OR no_data_found OR invalid_parameter_value OR invalid_text_representation
                 OR cardinality_violation THEN
                current_hash := NULL;
                current_state := NULL;
        END;
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_resource_hash(text, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_resource_hash(text, text, text) IS
    'internal: whether a resource is a table row whose content can be checked, and its current content hash and state';

-- The agent version (agent_id, version) an agent_publish request is
-- about, when its resource is a row of agent_versions (as
-- request_approval(tbl, row_key) and submit_version make it); null else.
CREATE FUNCTION taskforce._approval_agent_version(r taskforce.approval_requests)
    RETURNS text[]
    LANGUAGE sql IMMUTABLE
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT CASE WHEN r.request_type = 'agent_publish' AND r.resource_type = 'taskforce.agent_versions'
                THEN ARRAY[r.resource_id::jsonb ->> 'agent_id', r.resource_id::jsonb ->> 'version'] END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_agent_version(taskforce.approval_requests) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_agent_version(taskforce.approval_requests) IS
    'internal: {agent_id, version} of the agent version an agent_publish request is about (null for another resource)';

-- A request that ends without approval (rejected, expired, cancelled)
-- returns its agent version from pending_approval to draft, as a system
-- transition (the decision was the workflow's, not the caller's), through
-- catalog.sql's _withdraw_version.
CREATE FUNCTION taskforce._approval_return_to_draft(r taskforce.approval_requests)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v text[] := taskforce._approval_agent_version(r);
BEGIN
    IF v IS NULL OR NOT EXISTS (SELECT FROM taskforce.agent_versions AS x
                                 WHERE x.tenant_id = r.tenant_id AND x.agent_id = v[1] AND x.version = v[2]
                                   AND x.status = 'pending_approval') THEN
        RETURN;
    END IF;
    PERFORM taskforce._system_transitions(true);
    PERFORM taskforce._withdraw_version(r.tenant_id, v[1], v[2]);
    PERFORM taskforce._system_transitions(false);
END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_return_to_draft(taskforce.approval_requests) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_return_to_draft(taskforce.approval_requests) IS
    'internal: returns the agent version of an undecided agent_publish request to draft (system transition)';

-- Marks a pending request expired and says so; with return_to_draft its
-- agent version goes back to draft.
CREATE FUNCTION taskforce._expire_request(r taskforce.approval_requests, return_to_draft boolean DEFAULT true)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    UPDATE taskforce.approval_requests AS x SET status = 'expired', decided_at = pg_catalog.now()
     WHERE x.tenant_id = r.tenant_id AND x.request_id = r.request_id AND x.status = 'pending';
    IF NOT FOUND THEN
        RETURN;
    END IF;
    PERFORM taskforce._emit_event(r.tenant_id, 'request_expired', jsonb_build_object(
        'request_id', r.request_id, 'tenant_id', r.tenant_id, 'request_type', r.request_type,
        'resource_type', r.resource_type, 'resource_id', r.resource_id, 'expires_at', r.expires_at));
    IF return_to_draft THEN
        PERFORM taskforce._approval_return_to_draft(r);
    END IF;
END
$$;
REVOKE ALL ON FUNCTION taskforce._expire_request(taskforce.approval_requests, boolean) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._expire_request(taskforce.approval_requests, boolean) IS
    'internal: marks a pending request expired, emits request_expired, and returns its agent version to draft';

-- Applies an approved agent_publish request with auto_apply (seed 001
-- §4.2's on_approved callback): the version is approved and published as
-- system transitions in this transaction, through catalog.sql's
-- _approve_version and _publish_version (which turns system transitions
-- off again when it is done).
CREATE FUNCTION taskforce._approval_apply(r taskforce.approval_requests)
    RETURNS void
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    v text[] := taskforce._approval_agent_version(r);
BEGIN
    IF NOT r.auto_apply OR v IS NULL OR NOT EXISTS (
           SELECT FROM taskforce.agent_versions AS x
            WHERE x.tenant_id = r.tenant_id AND x.agent_id = v[1] AND x.version = v[2]
              AND x.status = 'pending_approval') THEN
        RETURN;
    END IF;
    PERFORM taskforce._system_transitions(true);
    PERFORM taskforce._approve_version(r.tenant_id, v[1], v[2]);
    PERFORM taskforce._publish_version(r.tenant_id, v[1], v[2]);
    PERFORM taskforce._system_transitions(false);
END
$$;
REVOKE ALL ON FUNCTION taskforce._approval_apply(taskforce.approval_requests) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._approval_apply(taskforce.approval_requests) IS
    'internal: approves and publishes the agent version of an approved agent_publish request with auto_apply (system transitions)';

-- The rules of acting on a request, in one place.  action: approve, reject
-- or comment.  Locks the request, then: 42704 unknown (another tenant's
-- too), 55000 decided, 55000 expired, 42501 without an approver role (a
-- comment: nor the requester), 42501 the requester's vote unless
-- self-approval is allowed, 42710 a second vote, 55000 an approval of
-- content that changed since the request.  Then decides: N approvals (and
-- K teams) approve, M rejections reject.
CREATE FUNCTION taskforce._act_on_request(request_id bigint, action text, comment text)
    RETURNS taskforce.approval_requests
    LANGUAGE plpgsql
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce.current_tenant();
    actor text := taskforce.current_user_id();
    roles text[];
    teams text[];
    r taskforce.approval_requests;
    hash record;
    approvers text[];
    approver_teams jsonb;
    rejections integer;
    agent_version text[];
BEGIN
    IF tenant IS NULL OR actor IS NULL THEN
        RAISE EXCEPTION 'acting on an approval request needs an authenticated user'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Authenticate first; an administrator acts through taskforce.act_as().';
    END IF;
    IF _act_on_request.request_id IS NULL THEN
        RAISE EXCEPTION 'request_id must not be null' USING ERRCODE = 'null_value_not_allowed';
    END IF;
    SELECT * INTO r FROM taskforce.approval_requests AS x
     WHERE x.tenant_id = tenant AND x.request_id = _act_on_request.request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'approval request % does not exist in tenant "%"', _act_on_request.request_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    IF r.status <> 'pending' THEN
        RAISE EXCEPTION 'approval request % is already %', r.request_id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'A decided request takes no more actions; make a new request.';
    END IF;
    IF r.expires_at <= pg_catalog.now() THEN
        RAISE EXCEPTION 'approval request % has expired', r.request_id
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  HINT = 'Make a new request.';
    END IF;
    roles := taskforce._approval_actor_roles();
    IF NOT roles && r.approver_roles AND NOT (action = 'comment' AND actor = r.requester_id) THEN
        RAISE EXCEPTION 'user "%" may not % approval request %', actor, action, r.request_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = CASE WHEN (taskforce.current_context()).permission_scopes IS NOT NULL
                              THEN 'A credential limited to permission scopes does not act on approval requests; use an unlimited one.'
                              ELSE format('Approvers hold one of the roles: %s.', array_to_string(r.approver_roles, ', ')) END;
    END IF;
    -- An agent version's author counts as its requester: whoever opened the
    -- request (a colleague, after a workflow was created), the author does
    -- not approve their own version.
    agent_version := taskforce._approval_agent_version(r);
    IF action <> 'comment' AND NOT r.allow_self_approval
       AND actor <> r.requester_id AND agent_version IS NOT NULL
       AND EXISTS (SELECT FROM taskforce.agent_versions AS v
                    WHERE v.tenant_id = r.tenant_id AND v.agent_id = agent_version[1] AND v.version = agent_version[2]
                      AND v.created_by = actor) THEN
        RAISE EXCEPTION 'user "%" created the agent version of approval request % and may not vote on it', actor, r.request_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The workflow does not allow self-approval.';
    END IF;
    IF action <> 'comment' AND actor = r.requester_id AND NOT r.allow_self_approval THEN
        RAISE EXCEPTION 'user "%" requested approval request % and may not vote on it', actor, r.request_id
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'The workflow does not allow self-approval; the requester may cancel the request instead.';
    END IF;
    IF action <> 'comment' AND EXISTS (
           SELECT FROM taskforce.approval_actions AS x
            WHERE x.tenant_id = tenant AND x.request_id = r.request_id AND x.actor_id = actor
              AND x.action IN ('approve', 'reject')) THEN
        RAISE EXCEPTION 'user "%" has already voted on approval request %', actor, r.request_id
            USING ERRCODE = 'duplicate_object';
    END IF;
    hash := taskforce._approval_resource_hash(r.tenant_id, r.resource_type, r.resource_id);
    IF action = 'approve' AND hash.checkable
       AND hash.current_hash IS DISTINCT FROM r.content_hash THEN
        RAISE EXCEPTION 'the content changed since the request was made'
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = format('Approval request %s is for other content of %s %s; it cannot be approved.',
                                  r.request_id, r.resource_type, r.resource_id),
                  HINT = 'Reject or cancel it, and request approval of the current content.';
    END IF;
    SELECT coalesce(array_agg(m.team_id ORDER BY m.team_id), '{}') INTO teams
      FROM taskforce.team_members AS m WHERE m.tenant_id = tenant AND m.user_id = actor;
    INSERT INTO taskforce.approval_actions (tenant_id, request_id, action, actor_id, actor_roles,
                                            actor_teams, content_hash, comment)
    VALUES (tenant, r.request_id, action, actor, roles, teams, hash.current_hash, _act_on_request.comment);

    IF action = 'approve' THEN
        SELECT array_agg(x.actor_id ORDER BY x.action_id), jsonb_agg(to_jsonb(x.actor_teams) ORDER BY x.action_id)
          INTO approvers, approver_teams
          FROM taskforce.approval_actions AS x
         WHERE x.tenant_id = tenant AND x.request_id = r.request_id AND x.action = 'approve';
        IF cardinality(approvers) >= r.required_approvals
           AND (r.min_distinct_teams IS NULL
                OR taskforce._approval_team_matching(approver_teams) >= r.min_distinct_teams) THEN
            UPDATE taskforce.approval_requests AS x SET status = 'approved', decided_at = pg_catalog.now()
             WHERE x.tenant_id = tenant AND x.request_id = r.request_id
            RETURNING * INTO r;
            PERFORM taskforce._emit_event(tenant, 'request_approved', jsonb_build_object(
                'request_id', r.request_id, 'tenant_id', r.tenant_id, 'request_type', r.request_type,
                'resource_type', r.resource_type, 'resource_id', r.resource_id,
                'approved_by', to_jsonb(approvers)));
            PERFORM taskforce._approval_apply(r);
        END IF;
    ELSIF action = 'reject' THEN
        SELECT count(*) INTO rejections FROM taskforce.approval_actions AS x
         WHERE x.tenant_id = tenant AND x.request_id = r.request_id AND x.action = 'reject';
        IF rejections >= r.required_rejections THEN
            UPDATE taskforce.approval_requests AS x SET status = 'rejected', decided_at = pg_catalog.now()
             WHERE x.tenant_id = tenant AND x.request_id = r.request_id
            RETURNING * INTO r;
            PERFORM taskforce._emit_event(tenant, 'request_rejected', jsonb_build_object(
                'request_id', r.request_id, 'tenant_id', r.tenant_id, 'request_type', r.request_type,
                'resource_type', r.resource_type, 'resource_id', r.resource_id,
                'rejected_by', (SELECT to_jsonb(array_agg(x.actor_id ORDER BY x.action_id))
                                  FROM taskforce.approval_actions AS x
                                 WHERE x.tenant_id = tenant AND x.request_id = r.request_id
                                   AND x.action = 'reject'),
                'reason', _act_on_request.comment));
            PERFORM taskforce._approval_return_to_draft(r);
        END IF;
    END IF;
    RETURN r;
END
$$;
REVOKE ALL ON FUNCTION taskforce._act_on_request(bigint, text, text) FROM PUBLIC;
COMMENT ON FUNCTION taskforce._act_on_request(bigint, text, text) IS
    'internal: the rules of voting on and commenting a request, and its decision';

CREATE FUNCTION taskforce.approve_request(request_id bigint, comment text DEFAULT NULL)
    RETURNS taskforce.approval_requests
    LANGUAGE sql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT * FROM taskforce._act_on_request(request_id, 'approve', comment)
$$;
COMMENT ON FUNCTION taskforce.approve_request(bigint, text) IS
    'approves a pending request as the context user (one of its approver roles, one vote per person, not the requester unless self-approval is allowed, the content unchanged); returns the request, approved once N approvals (from K distinct teams if set) are in';

CREATE FUNCTION taskforce.reject_request(request_id bigint, comment text)
    RETURNS taskforce.approval_requests
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
BEGIN
    IF comment IS NULL OR pg_catalog.btrim(comment) = '' THEN
        RAISE EXCEPTION 'a rejection needs a comment giving the reason'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    RETURN taskforce._act_on_request(request_id, 'reject', comment);
END
$$;
COMMENT ON FUNCTION taskforce.reject_request(bigint, text) IS
    'rejects a pending request as the context user, giving the reason (the same rules as approving); returns the request, rejected once M rejections are in (an agent version then returns to draft)';

CREATE FUNCTION taskforce.comment_request(request_id bigint, comment text)
    RETURNS taskforce.approval_actions
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    a taskforce.approval_actions;
BEGIN
    IF comment IS NULL OR pg_catalog.btrim(comment) = '' THEN
        RAISE EXCEPTION 'comment must not be null or blank'
            USING ERRCODE = 'null_value_not_allowed';
    END IF;
    PERFORM taskforce._act_on_request(request_id, 'comment', comment);
    SELECT * INTO a FROM taskforce.approval_actions AS x
     WHERE x.tenant_id = taskforce.current_tenant() AND x.request_id = comment_request.request_id
     ORDER BY x.action_id DESC LIMIT 1;
    RETURN a;
END
$$;
COMMENT ON FUNCTION taskforce.comment_request(bigint, text) IS
    'adds a comment to a pending request (its approvers and its requester may); returns the action';

CREATE FUNCTION taskforce.cancel_request(request_id bigint)
    RETURNS taskforce.approval_requests
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce.current_tenant();
    r taskforce.approval_requests;
BEGIN
    IF tenant IS NULL THEN
        RAISE EXCEPTION 'cancelling an approval request needs an authenticated user'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Authenticate first; an administrator acts through taskforce.act_as().';
    END IF;
    SELECT * INTO r FROM taskforce.approval_requests AS x
     WHERE x.tenant_id = tenant AND x.request_id = cancel_request.request_id
       FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'approval request % does not exist in tenant "%"', cancel_request.request_id, tenant
            USING ERRCODE = 'undefined_object';
    END IF;
    IF r.requester_id IS DISTINCT FROM taskforce.current_user_id()
       AND NOT taskforce.has_permission('workflow:manage') THEN
        RAISE EXCEPTION 'only the requester or a holder of workflow:manage may cancel approval request %', r.request_id
            USING ERRCODE = 'insufficient_privilege';
    END IF;
    IF r.status <> 'pending' THEN
        RAISE EXCEPTION 'approval request % is already %', r.request_id, r.status
            USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    UPDATE taskforce.approval_requests AS x SET status = 'cancelled', decided_at = pg_catalog.now()
     WHERE x.tenant_id = tenant AND x.request_id = r.request_id
    RETURNING * INTO r;
    PERFORM taskforce._approval_return_to_draft(r);
    RETURN r;
END
$$;
COMMENT ON FUNCTION taskforce.cancel_request(bigint) IS
    'cancels a pending request (its requester, or a holder of workflow:manage); an agent version returns to draft; returns the request';

CREATE FUNCTION taskforce.expire_requests()
    RETURNS integer
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    tenant text := taskforce.current_tenant();
    r taskforce.approval_requests;
    n integer := 0;
BEGIN
    IF tenant IS NOT NULL THEN
        PERFORM taskforce.require_permission('workflow:manage');
    ELSIF NOT taskforce._caller_is_administrator() THEN
        RAISE EXCEPTION 'permission "workflow:manage" required'
            USING ERRCODE = 'insufficient_privilege',
                  HINT = 'Authenticate first, or call as an administrator role (every tenant).';
    END IF;
    -- A request someone is voting on right now is skipped: the vote
    -- decides (or sees it expired); the next run takes it.  A deleted
    -- tenant's requests stay as they are (its rows refuse every write, and
    -- one tenant must not stop the job for all).
    FOR r IN SELECT * FROM taskforce.approval_requests AS x
              WHERE x.status = 'pending' AND x.expires_at <= pg_catalog.now()
                AND (tenant IS NULL OR x.tenant_id = tenant)
                AND NOT EXISTS (SELECT FROM taskforce.tenants AS t
                                 WHERE t.tenant_id = x.tenant_id AND t.status = 'deleted')
              ORDER BY x.expires_at, x.tenant_id, x.request_id
                FOR UPDATE SKIP LOCKED LOOP
        PERFORM taskforce._expire_request(r);
        n := n + 1;
    END LOOP;
    RETURN n;
END
$$;
REVOKE ALL ON FUNCTION taskforce.expire_requests() FROM PUBLIC;
COMMENT ON FUNCTION taskforce.expire_requests() IS
    'marks overdue pending requests expired (skipping those being voted on), emits request_expired and returns agent versions to draft; returns how many; a context with workflow:manage: its tenant, an administrator without context: every tenant (schedule it with pg_cron)';

CREATE FUNCTION taskforce.pending_for_me()
    RETURNS SETOF taskforce.approval_requests
    LANGUAGE sql STABLE SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
    SELECT r.* FROM taskforce.approval_requests AS r
     WHERE r.tenant_id = taskforce.current_tenant()
       AND r.status = 'pending'
       AND (r.expires_at IS NULL OR r.expires_at > pg_catalog.now())
       AND r.approver_roles && (SELECT taskforce._approval_actor_roles())
       AND (r.requester_id <> taskforce.current_user_id() OR r.allow_self_approval)
       AND NOT EXISTS (SELECT FROM taskforce.approval_actions AS a
                        WHERE a.tenant_id = r.tenant_id AND a.request_id = r.request_id
                          AND a.actor_id = taskforce.current_user_id()
                          AND a.action IN ('approve', 'reject'))
     ORDER BY r.created_at, r.request_id
$$;
COMMENT ON FUNCTION taskforce.pending_for_me() IS
    'the pending, unexpired requests of the context''s tenant the context user may vote on: holds an approver role, is not the requester (unless self-approval is allowed), has not voted';

CREATE VIEW taskforce.pending_approvals AS
    SELECT * FROM taskforce.pending_for_me();
COMMENT ON VIEW taskforce.pending_approvals IS
    'the requests the context user may vote on now (pending_for_me())';
