-- src/sql/catalog.sql: (issue 11; the shared design is spec/LIFE_SPEC.md).

-- Publishing (and deprecating, archiving) agent versions.  Designers
-- publish; with an agent_publish workflow in place, approval also needs an
-- approved request (approvals.sql).
INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('agent:publish', 'approve, publish, deprecate and archive agent versions', true);
UPDATE taskforce.system_roles
   SET permissions = permissions || ARRAY['agent:publish']
 WHERE role_name = 'agent_designer';
