-- src/sql/live_contexts.sql: who is connected (new in 0.4.0).  Each
-- backend publishes its current context in shared memory when it changes
-- (src/context/registry.c); these views read it, filtered by caller:
-- administrators see every backend's, a context holding user:manage sees
-- its own tenant's, anyone else nothing.  Never the signed value.

CREATE FUNCTION taskforce._live_context_slots(
    OUT backend_pid integer,
    OUT tenant_id text,
    OUT user_id text,
    OUT auth_method text,
    OUT scope text,
    OUT established_at timestamptz,
    OUT expires_at timestamptz)
    RETURNS SETOF record
    LANGUAGE C VOLATILE
    AS 'MODULE_PATHNAME', 'taskforce_live_context_slots';
REVOKE ALL ON FUNCTION taskforce._live_context_slots() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._live_context_slots() IS
    'internal: every backend''s unexpired context from shared memory, unfiltered';

-- The live contexts the calling role may see.
CREATE FUNCTION taskforce._visible_live_contexts(
    OUT backend_pid integer,
    OUT tenant_id text,
    OUT user_id text,
    OUT auth_method text,
    OUT scope text,
    OUT established_at timestamptz,
    OUT expires_at timestamptz)
    RETURNS SETOF record
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    administrator boolean := taskforce._caller_is_administrator();
    tenant text;
BEGIN
    IF NOT administrator THEN
        tenant := taskforce.current_tenant();
        IF tenant IS NULL OR NOT taskforce.has_permission('user:manage') THEN
            RETURN;
        END IF;
    END IF;
    RETURN QUERY SELECT s.backend_pid, s.tenant_id, s.user_id, s.auth_method, s.scope,
                        s.established_at, s.expires_at
                   FROM taskforce._live_context_slots() AS s
                  WHERE administrator OR s.tenant_id = tenant
                  ORDER BY s.backend_pid;
END
$$;
REVOKE ALL ON FUNCTION taskforce._visible_live_contexts() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._visible_live_contexts() IS
    'internal: the live contexts the calling role may see (administrators all, a user:manage context its tenant''s)';

CREATE VIEW taskforce.live_contexts AS
    SELECT c.backend_pid, c.tenant_id, c.user_id, c.auth_method, c.scope,
           c.established_at, c.expires_at
      FROM taskforce._visible_live_contexts() AS c;
COMMENT ON VIEW taskforce.live_contexts IS
    'the unexpired context of every backend: all for administrators, its own tenant''s for a context holding user:manage';
COMMENT ON COLUMN taskforce.live_contexts.backend_pid IS 'the backend''s process id (pg_stat_activity.pid)';
COMMENT ON COLUMN taskforce.live_contexts.tenant_id IS 'the tenant of the context';
COMMENT ON COLUMN taskforce.live_contexts.user_id IS 'the user of the context';
COMMENT ON COLUMN taskforce.live_contexts.auth_method IS 'how it was established: act_as, jwt, api_key or password';
COMMENT ON COLUMN taskforce.live_contexts.scope IS 'transaction or session';
COMMENT ON COLUMN taskforce.live_contexts.established_at IS 'when the context was established';
COMMENT ON COLUMN taskforce.live_contexts.expires_at IS 'when the context expires';

CREATE VIEW taskforce.live_context_counts AS
    SELECT c.tenant_id, count(*) AS contexts
      FROM taskforce._visible_live_contexts() AS c
     GROUP BY c.tenant_id;
COMMENT ON VIEW taskforce.live_context_counts IS
    'a gauge: the number of unexpired contexts per tenant, with the visibility of live_contexts';
COMMENT ON COLUMN taskforce.live_context_counts.tenant_id IS 'the tenant';
COMMENT ON COLUMN taskforce.live_context_counts.contexts IS 'backends holding an unexpired context of the tenant';
