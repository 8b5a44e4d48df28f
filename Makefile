# taskforce: PGXS build.  Run the tests with the command in README.md.

EXTENSION = taskforce
EXTVERSION = $(shell sed -n "s/^default_version = '\(.*\)'/\1/p" taskforce.control)

MODULE_big = taskforce
OBJS = \
	src/taskforce.o \
	src/crypto/crypto.o \
	src/context/secret.o \
	src/context/token.o \
	src/context/context.o \
	src/tenancy/tenancy.o

# The install script is the subsystems' SQL, in dependency order.
SQL_SOURCES = \
	src/sql/preamble.sql \
	src/sql/context.sql \
	src/sql/tenancy.sql \
	src/sql/isolation.sql \
	src/sql/roles.sql
DATA_built = $(EXTENSION)--$(EXTVERSION).sql
DATA = $(filter-out $(DATA_built),$(wildcard $(EXTENSION)--*--*.sql))

PG_CPPFLAGS = -I$(srcdir)/src
SHLIB_LINK += -lcrypto

# pg_regress suites (sql/ + expected/) and isolation specs (test/specs/),
# each against a temporary instance with taskforce preloaded.
REGRESS = tenancy context isolation roles
TEMP_INSTANCE ?= ./tmp_check
REGRESS_OPTS = --temp-instance=$(TEMP_INSTANCE) --temp-config=test/taskforce.conf
ISOLATION = tenant_isolation context_scope
ISOLATION_OPTS = --inputdir=test --temp-instance=$(TEMP_INSTANCE)_iso --temp-config=test/taskforce.conf

EXTRA_CLEAN = $(DATA_built) tmp_check tmp_check_iso results output_iso regression.diffs regression.out

PG_CONFIG ?= pg_config
PGXS := $(shell $(PG_CONFIG) --pgxs)
include $(PGXS)

$(EXTENSION)--$(EXTVERSION).sql: $(SQL_SOURCES)
	cat $^ > $@
