-- src/sql/deleted_tenants.sql: a deleted tenant refuses every write (new in
-- 0.4.0).  One BEFORE INSERT OR UPDATE trigger on each of taskforce's tenant
-- tables is the place every write path meets, the management functions and
-- any later one alike.  Deletes stay allowed (offboard_tenant removes the
-- rows), and so do the bookkeeping columns the event writer and lockout
-- keep (last login and use, failed-password counters), named as the
-- trigger's arguments: the writer must not fail forever on a record of a
-- tenant deleted since.  A restore is let through too: pg_dump's script sets
-- row_security = off, and only a superuser can write these tables directly,
-- so a deleted tenant's rows not yet offboarded restore as they were.

-- Raises object_not_in_prerequisite_state when the row belongs to a deleted
-- tenant, unless the update changes only the columns named as arguments.
-- The tenant row is read FOR SHARE: a write racing delete_tenant (which
-- locks that row FOR UPDATE) waits for it and then sees the deletion.
CREATE FUNCTION taskforce._refuse_deleted_tenant_write()
    RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER
    SET search_path = pg_catalog, pg_temp
    AS $$
DECLARE
    new_row jsonb := pg_catalog.to_jsonb(NEW);
    bookkeeping text[] := coalesce(TG_ARGV, '{}');
    tenant text;
    tenant_status text;
BEGIN
    IF pg_catalog.current_setting('row_security') = 'off'
       AND (SELECT r.rolsuper FROM pg_catalog.pg_roles AS r WHERE r.rolname = session_user) THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'UPDATE' AND new_row - bookkeeping = pg_catalog.to_jsonb(OLD) - bookkeeping THEN
        RETURN NEW;
    END IF;
    IF TG_TABLE_NAME = 'jwt_keys' THEN
        SELECT i.tenant_id INTO tenant FROM taskforce.jwt_issuers AS i
         WHERE i.issuer = new_row->>'issuer';
    ELSE
        tenant := new_row->>'tenant_id';
    END IF;
    IF tenant IS NULL THEN
        RETURN NEW;
    END IF;
    SELECT t.status INTO tenant_status FROM taskforce.tenants AS t
     WHERE t.tenant_id = tenant FOR SHARE;
    IF tenant_status = 'deleted' THEN
        RAISE EXCEPTION 'tenant "%" is deleted', tenant
            USING ERRCODE = 'object_not_in_prerequisite_state',
                  DETAIL = 'A deleted tenant refuses every write; its rows can only be removed.',
                  HINT = 'Remove its rows with taskforce.offboard_tenant().';
    END IF;
    RETURN NEW;
END
$$;
REVOKE ALL ON FUNCTION taskforce._refuse_deleted_tenant_write() FROM PUBLIC;
COMMENT ON FUNCTION taskforce._refuse_deleted_tenant_write() IS
    'internal: trigger refusing inserts and updates of a deleted tenant''s rows (bookkeeping columns excepted)';

CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.users
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('last_login_at');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.roles
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.role_grants
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
-- rotated_to: the foreign key sets it to null when offboarding removes the
-- key a revoked key was rotated to.
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.api_keys
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('last_used_at', 'rotated_to');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.password_policies
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.user_credentials
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write('failed_attempts', 'locked_until');
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.jwt_issuers
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
CREATE TRIGGER refuse_deleted_tenant_write BEFORE INSERT OR UPDATE ON taskforce.jwt_keys
    FOR EACH ROW EXECUTE FUNCTION taskforce._refuse_deleted_tenant_write();
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.users IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.roles IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.role_grants IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.api_keys IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.password_policies IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.user_credentials IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.jwt_issuers IS
    'refuses inserts and updates of a deleted tenant''s rows';
COMMENT ON TRIGGER refuse_deleted_tenant_write ON taskforce.jwt_keys IS
    'refuses inserts and updates of a deleted tenant''s rows';
