-- src/sql/releases.sql: (issue 11; the shared design is spec/LIFE_SPEC.md).

INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('release:manage', 'create, release and roll back project releases and environments', true);
