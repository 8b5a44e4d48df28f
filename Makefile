# taskforce: PGXS build.  Run the tests with the command in README.md.

EXTENSION = taskforce
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" taskforce.control)

MODULE_big = taskforce
OBJS = \
	src/taskforce.o \
	src/crypto/crypto.o \
	src/util/owner.o \
	src/util/launcher.o \
	src/context/secret.o \
	src/context/token.o \
	src/context/context.o \
	src/context/lifetime.o \
	src/context/registry.o \
	src/tenancy/tenancy.o \
	src/rbac/pattern.o \
	src/rbac/rbac.o \
	src/rbac/liveness.o \
	src/auth/lockout.o \
	src/auth/current.o \
	src/auth/events.o \
	src/auth/writer.o \
	src/auth/bearer.o \
	src/auth/jwt_parse.o \
	src/auth/jwt.o \
	src/audit/encode.o \
	src/audit/trigger.o \
	src/audit/append.o \
	src/audit/row_image.o \
	src/audit/merkle.o \
	src/audit/checkpoint.o \
	src/audit/tiles.o \
	src/audit/store.o \
	src/audit/seal.o \
	src/audit/sealer.o \
	src/audit/verify.o \
	src/acl/decide.o \
	src/acl/cache.o \
	src/acl/functions.o \
	src/lifecycle/machine.o \
	src/lifecycle/machine_cache.o \
	src/lifecycle/semver.o \
	src/lifecycle/config_hash.o \
	src/lifecycle/webhook_sign.o

# The install script is the subsystems' SQL, in dependency order.  Each
# release adds an upgrade script: the changes to existing objects
# (src/sql/upgrade/FROM--TO.sql, which also drops roles.sql's functions)
# followed by the files new in that release and roles.sql, which grants the
# release's objects to the roles setup_roles() recorded.  Once released, an
# upgrade script is frozen in src/sql/upgrade/ as it shipped.
SQL_SINCE_0_1_0 = \
	src/sql/preamble.sql \
	src/sql/context.sql \
	src/sql/tenancy.sql \
	src/sql/isolation.sql
SQL_SINCE_0_2_0 = \
	src/sql/identity.sql \
	src/sql/security_events.sql \
	src/sql/rbac.sql \
	src/sql/passwords.sql \
	src/sql/api_keys.sql \
	src/sql/jwt.sql
SQL_SINCE_0_3_0 = \
	src/sql/database_roles.sql
SQL_SINCE_0_4_0 = \
	src/sql/deleted_tenants.sql \
	src/sql/offboarding.sql \
	src/sql/live_contexts.sql
SQL_SINCE_0_5_0 = \
	src/sql/audit.sql \
	src/sql/audit_log.sql \
	src/sql/audit_export.sql \
	src/sql/audit_purge.sql \
	src/sql/evidence.sql \
	src/sql/citations.sql
SQL_SINCE_0_6_0 = \
	src/sql/projects.sql \
	src/sql/acl.sql \
	src/sql/acl_manage.sql \
	src/sql/acl_protect.sql \
	src/sql/acl_policies.sql \
	src/sql/retention.sql
SQL_SINCE_0_7_0 = \
	src/sql/state_machines.sql \
	src/sql/catalog.sql \
	src/sql/approvals.sql \
	src/sql/approvals_actions.sql \
	src/sql/events.sql \
	src/sql/releases.sql
SQL_SOURCES = $(SQL_SINCE_0_1_0) $(SQL_SINCE_0_2_0) $(SQL_SINCE_0_3_0) $(SQL_SINCE_0_4_0) $(SQL_SINCE_0_5_0) $(SQL_SINCE_0_6_0) $(SQL_SINCE_0_7_0) src/sql/roles.sql
DATA_built = $(EXTENSION)--$(EXTVERSION).sql $(EXTENSION)--0.6.0--0.7.0.sql
# Scripts of earlier releases, frozen as they shipped.
DATA = \
	src/sql/upgrade/$(EXTENSION)--0.1.0.sql \
	src/sql/upgrade/$(EXTENSION)--0.1.0--0.2.0.sql \
	src/sql/upgrade/$(EXTENSION)--0.2.0--0.3.0.sql \
	src/sql/upgrade/$(EXTENSION)--0.3.0--0.4.0.sql \
	src/sql/upgrade/$(EXTENSION)--0.4.0--0.5.0.sql \
	src/sql/upgrade/$(EXTENSION)--0.5.0--0.6.0.sql

PG_CPPFLAGS = -I$(srcdir)/src
SHLIB_LINK += -lcrypto

# pg_regress suites (sql/ + expected/) and isolation specs (test/specs/),
# each against a temporary instance with taskforce preloaded.
REGRESS = tenancy context isolation roles rbac passwords api_keys jwt escalation hardening_review operations evidence audit audit_log audit_app audit_purge projects acl retention state_machines approvals events catalog releases
TEMP_INSTANCE ?= ./tmp_check
REGRESS_OPTS = --temp-instance=$(TEMP_INSTANCE) --temp-config=test/taskforce.conf
ISOLATION = tenant_isolation context_scope permission_cache manage_race permission_cache_snapshot jwt_key_cache context_liveness lockout credential_snapshot deleted_tenant_writes live_contexts audit_seal audit_purge retention_race acl_cache acl_drop_race state_machine_cache publish_race agent_limit_race approval_race release_race
ISOLATION_OPTS = --inputdir=test --temp-instance=$(TEMP_INSTANCE)_iso --temp-config=test/taskforce.conf

EXTRA_CLEAN = $(DATA_built) tmp_check tmp_check_iso results output_iso regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES)
	cat $^ > $@

$(EXTENSION)--0.6.0--0.7.0.sql: src/sql/upgrade/0.6.0--0.7.0.sql $(SQL_SINCE_0_7_0) src/sql/roles.sql
	cat $^ > $@
