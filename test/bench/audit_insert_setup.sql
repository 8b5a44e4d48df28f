-- test/bench/audit_insert_setup.sql: three identical tables for
-- audit_insert.sh: no trigger, a PL/pgSQL to_jsonb trigger, enable_audit.
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
CREATE TABLE t_none (id bigserial PRIMARY KEY, tenant_id text NOT NULL, n integer, payload text, at timestamptz DEFAULT now());
CREATE TABLE t_plpgsql (LIKE t_none INCLUDING ALL);
CREATE TABLE t_audit (LIKE t_none INCLUDING ALL);
-- The usual hand-written audit trigger: one row of to_jsonb(NEW) per change.
CREATE TABLE plain_audit (id bigserial PRIMARY KEY, logged_at timestamptz NOT NULL DEFAULT now(),
                          txid bigint NOT NULL DEFAULT txid_current(), object text, action text,
                          db_role text DEFAULT session_user, old_values jsonb, new_values jsonb);
CREATE FUNCTION plain_audit_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO plain_audit (object, action, old_values, new_values)
    VALUES (TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
            CASE WHEN TG_OP <> 'INSERT' THEN to_jsonb(OLD) END,
            CASE WHEN TG_OP <> 'DELETE' THEN to_jsonb(NEW) END);
    RETURN NULL;
END $$;
CREATE TRIGGER plain_audit AFTER INSERT OR UPDATE OR DELETE ON t_plpgsql
    FOR EACH ROW EXECUTE FUNCTION plain_audit_trigger();
SELECT taskforce.enable_audit('t_audit');
