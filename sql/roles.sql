-- roles: the database roles an installation needs, and what each may do.
\set SHOW_CONTEXT never
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS taskforce CASCADE;
RESET client_min_messages;

-- Creating the roles is an explicit call; calling it again creates nothing.
SELECT * FROM taskforce.setup_roles();
SELECT * FROM taskforce.setup_roles();
SELECT rolname, rolcanlogin, rolsuper, rolbypassrls, rolcreaterole
  FROM pg_roles WHERE rolname LIKE 'taskforce\_%' ORDER BY rolname;

-- Custom names, and names that would defeat isolation, are checked.
SELECT role_name, created FROM taskforce.setup_roles('acme_app', 'acme_admin', 'acme_auditor', 'acme_bi');
CREATE ROLE roles_bypass BYPASSRLS;
SELECT taskforce.setup_roles(app_role => 'roles_bypass');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.setup_roles(app_role => 'postgres');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.setup_roles('same', 'same', 'x_auditor', 'x_bi');
\echo :LAST_ERROR_SQLSTATE
SELECT taskforce.setup_roles(NULL);
\echo :LAST_ERROR_SQLSTATE

-- What each role may do.
SELECT r.role,
       has_schema_privilege(r.role, 'taskforce', 'USAGE') AS schema_usage,
       has_function_privilege(r.role, 'taskforce.act_as(text, text, text[], text, interval)', 'EXECUTE') AS act_as,
       has_function_privilege(r.role, 'taskforce.create_tenant(text, text, text, jsonb, jsonb, text[], jsonb)', 'EXECUTE') AS create_tenant,
       has_function_privilege(r.role, 'taskforce.suspend_tenant(text, text)', 'EXECUTE') AS suspend_tenant,
       has_function_privilege(r.role, 'taskforce.list_tenants(text)', 'EXECUTE') AS list_tenants,
       has_function_privilege(r.role, 'taskforce.isolation_report(name)', 'EXECUTE') AS isolation_report,
       has_function_privilege(r.role, 'taskforce._establish_context(text, text, text[], text, text, interval, text[])', 'EXECUTE') AS establish,
       has_table_privilege(r.role, 'taskforce.tenants', 'SELECT') AS read_tenants,
       has_table_privilege(r.role, 'taskforce.tenants', 'INSERT, UPDATE, DELETE, TRUNCATE') AS write_tenants
  FROM unnest(ARRAY['taskforce_app', 'taskforce_admin', 'taskforce_auditor', 'taskforce_bi', 'public']) AS r(role)
 ORDER BY r.role;

-- Identity: who reads users and roles, security events, token keys and
-- credentials, and who may name a user in a permission check.
SELECT r.role,
       has_table_privilege(r.role, 'taskforce.users', 'SELECT') AS read_users,
       has_table_privilege(r.role, 'taskforce.users', 'INSERT, UPDATE, DELETE, TRUNCATE') AS write_users,
       has_table_privilege(r.role, 'taskforce.role_grants', 'SELECT') AS read_grants,
       has_table_privilege(r.role, 'taskforce.security_events', 'SELECT') AS read_events,
       has_table_privilege(r.role, 'taskforce.jwt_keys', 'SELECT') AS read_jwt_keys,
       has_table_privilege(r.role, 'taskforce.api_keys', 'SELECT') AS read_api_keys,
       has_table_privilege(r.role, 'taskforce.user_credentials', 'SELECT') AS read_credentials,
       has_function_privilege(r.role, 'taskforce.has_permission(text, text, text)', 'EXECUTE') AS check_named_user,
       has_function_privilege(r.role, 'taskforce.authenticate_jwt(text, text, interval, inet)', 'EXECUTE') AS authenticate
  FROM unnest(ARRAY['taskforce_app', 'taskforce_admin', 'taskforce_auditor', 'taskforce_bi', 'public']) AS r(role)
 ORDER BY r.role;

-- An ordinary role cannot create roles or hand out taskforce privileges.
CREATE ROLE roles_plain LOGIN;
\c - roles_plain
SELECT taskforce.setup_roles('p_app', 'p_admin', 'p_auditor', 'p_bi');
\echo :LAST_ERROR_SQLSTATE
\c - postgres
SELECT count(*) FROM pg_roles WHERE rolname LIKE 'p\_%';
