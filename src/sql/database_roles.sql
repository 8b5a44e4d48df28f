-- src/sql/database_roles.sql: the database roles setup_roles() set up, by
-- purpose (new in 0.3.0).  roles.sql grants each the privileges of its
-- purpose, at install and at every upgrade.

CREATE TABLE taskforce.database_roles (
    purpose   text NOT NULL,
    role_name name NOT NULL,
    CONSTRAINT database_roles_pkey PRIMARY KEY (purpose, role_name),
    CONSTRAINT database_roles_purpose_known CHECK (purpose IN ('app', 'admin', 'auditor', 'bi'))
);
REVOKE ALL ON taskforce.database_roles FROM PUBLIC;
COMMENT ON TABLE taskforce.database_roles IS
    'the database roles setup_roles() set up, by purpose; upgrades grant new objects to them';
SELECT pg_catalog.pg_extension_config_dump('taskforce.database_roles', '');
