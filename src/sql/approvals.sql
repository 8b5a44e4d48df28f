-- src/sql/approvals.sql: (issue 11; the shared design is spec/LIFE_SPEC.md).

INSERT INTO taskforce.permissions (permission, description, is_system) VALUES
    ('workflow:manage', 'manage approval workflows and webhook endpoints, and cancel any request', true);
