/*-------------------------------------------------------------------------
 * src/rbac/liveness.c
 *	  Whether a context's tenant and user may still act.
 *
 * A signed context stays valid until it expires, but one whose tenant has
 * been suspended or deleted, or whose user has been deactivated or
 * deleted, must stop at once.  Each backend caches the status of the
 * tenants and users of the contexts it reads, and drops that cache when a
 * relcache invalidation of taskforce.tenants or taskforce.users arrives
 * (their status triggers send one, see rbac.sql: the mechanism the
 * permission cache uses), so a change reaches every session no later than
 * its next transaction.  Per read of the context the check is two
 * comparisons; a lookup happens only when the context or the statuses
 * have changed.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "miscadmin.h"
#include "storage/proc.h"
#include "utils/builtins.h"
#include "utils/hsearch.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"

#include "rbac/liveness.h"
#include "util/owner.h"

/* A backend serving many identities through a pool starts over past this many. */
#define MAX_CACHED_IDENTITIES 10000
#define MAX_STATUS_LEN 15

/* The statuses of one identity's tenant and user; "" when the row is missing. */
typedef struct LivenessEntry
{
	uint64		hash;			/* hash key: must be first */
	char	   *identity;		/* tenant and user, to rule out collisions */
	int			identity_len;	/* -1 until loaded */
	char		tenant_status[MAX_STATUS_LEN + 1];
	char		user_status[MAX_STATUS_LEN + 1];
} LivenessEntry;

static MemoryContext liveness_memory = NULL;
static HTAB *statuses = NULL;
static Oid	tenants_oid = InvalidOid;
static Oid	users_oid = InvalidOid;
static uint64 liveness_generation = 1;
static uint64 loaded_generation = 0;
static bool callback_registered = false;
static LocalTransactionId provisional_lxid = InvalidLocalTransactionId;
static SPIPlanPtr status_plan = NULL;
static bool loading = false;

/* The context last found live, and the generation of statuses it was checked against. */
static uint64 live_context_generation = 0;

/* The context whose user this backend has seen with a row. */
static uint64 user_seen_context_generation = 0;
static uint64 live_liveness_generation = 0;

/* Relcache callback: a change to the tenants or users table drops the cache. */
static void
liveness_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == tenants_oid || relid == users_oid)
		liveness_generation++;
}

/* Drops the cache after an invalidation, or after a parallel query's transaction loaded it. */
static void
ensure_statuses(void)
{
	HASHCTL		ctl;
	Oid			schema;

	if (provisional_lxid != InvalidLocalTransactionId && provisional_lxid != MyProc->lxid)
	{
		provisional_lxid = InvalidLocalTransactionId;
		liveness_generation++;
	}
	if (statuses != NULL && loaded_generation == liveness_generation)
		return;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(liveness_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (liveness_memory == NULL)
		liveness_memory = AllocSetContextCreate(CacheMemoryContext, "taskforce liveness cache",
												ALLOCSET_SMALL_SIZES);
	MemoryContextReset(liveness_memory);
	statuses = NULL;

	/* Whatever an invalidation during the loads below says makes the next call start over. */
	loaded_generation = liveness_generation;
	schema = get_namespace_oid("taskforce", false);
	tenants_oid = get_relname_relid("tenants", schema);
	users_oid = get_relname_relid("users", schema);
	if (!OidIsValid(tenants_oid))
		elog(ERROR, "taskforce.tenants is missing");

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(LivenessEntry);
	ctl.hcxt = liveness_memory;
	statuses = hash_create("taskforce liveness", 64, &ctl,
						   HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/* Copies column n of the current SPI row into buf; "" when NULL. */
static void
status_column(int n, char *buf)
{
	char	   *value = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, n);

	strlcpy(buf, value != NULL ? value : "", MAX_STATUS_LEN + 1);
}

/* What load_entry needs, passed through tf_spi_as_owner. */
typedef struct EntryLoad
{
	LivenessEntry *entry;
	const text *tenant_id;
	const text *user_id;
} EntryLoad;

/* Reads the tenant's and the user's status; run through tf_spi_as_owner. */
static void
load_entry(void *arg)
{
	EntryLoad  *load = (EntryLoad *) arg;
	Datum		args[2];
	int			rc;

	/* An installation still at 0.1.0 has no users table: only the tenant counts there. */
	if (!OidIsValid(users_oid))
	{
		rc = SPI_execute_with_args("SELECT t.status, 'active' FROM taskforce.tenants AS t"
								   " WHERE t.tenant_id = $1"
								   " UNION ALL SELECT NULL, NULL LIMIT 1",
								   1, (Oid[]) {TEXTOID}, (Datum[]) {PointerGetDatum(load->tenant_id)},
								   NULL, true, 1);
		if (rc != SPI_OK_SELECT || SPI_processed != 1)
			elog(ERROR, "taskforce liveness query failed: %s", SPI_result_code_string(rc));
		status_column(1, load->entry->tenant_status);
		status_column(2, load->entry->user_status);
		return;
	}
	if (status_plan == NULL)
	{
		Oid			types[2] = {TEXTOID, TEXTOID};
		SPIPlanPtr	plan = SPI_prepare("SELECT (SELECT t.status FROM taskforce.tenants AS t"
									   "         WHERE t.tenant_id = $1),"
									   "       (SELECT u.status FROM taskforce.users AS u"
									   "         WHERE u.tenant_id = $1 AND u.user_id = $2)",
									   2, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare the liveness query: %s",
				 SPI_result_code_string(SPI_result));
		status_plan = plan;
	}
	args[0] = PointerGetDatum(load->tenant_id);
	args[1] = PointerGetDatum(load->user_id);
	rc = SPI_execute_plan(status_plan, args, NULL, true, 1);
	if (rc != SPI_OK_SELECT || SPI_processed != 1)
		elog(ERROR, "taskforce liveness query failed: %s", SPI_result_code_string(rc));
	status_column(1, load->entry->tenant_status);
	status_column(2, load->entry->user_status);
}

/* Returns the cached statuses of an identity, loading them on a miss. */
static LivenessEntry *
lookup(const text *tenant_id, const text *user_id)
{
	StringInfoData key;
	uint64		hash;
	LivenessEntry *entry;
	bool		found;
	EntryLoad	load;

	ensure_statuses();
	if (hash_get_num_entries(statuses) >= MAX_CACHED_IDENTITIES)
	{
		liveness_generation++;
		ensure_statuses();
	}
	initStringInfo(&key);
	appendBinaryStringInfo(&key, VARDATA_ANY(tenant_id), VARSIZE_ANY_EXHDR(tenant_id));
	appendStringInfoChar(&key, '\0');
	appendBinaryStringInfo(&key, VARDATA_ANY(user_id), VARSIZE_ANY_EXHDR(user_id));
	hash = hash_bytes_extended((const unsigned char *) key.data, key.len, 0);

	entry = hash_search(statuses, &hash, HASH_ENTER, &found);
	if (found && entry->identity_len == key.len &&
		memcmp(entry->identity, key.data, key.len) == 0)
	{
		pfree(key.data);
		return entry;
	}

	/* Keep the entry well-formed even if loading fails part way. */
	entry->identity = MemoryContextAlloc(liveness_memory, key.len);
	memcpy(entry->identity, key.data, key.len);
	entry->identity_len = -1;
	load.entry = entry;
	load.tenant_id = tenant_id;
	load.user_id = user_id;
	loading = true;
	PG_TRY();
	{
		if (!tf_spi_as_owner(load_entry, &load))
			provisional_lxid = MyProc->lxid;
	}
	PG_FINALLY();
	{
		loading = false;
	}
	PG_END_TRY();
	entry->identity_len = key.len;
	pfree(key.data);
	return entry;
}

/*
 * Raises invalid_authorization_specification unless the context's tenant
 * is active and its user, if it has a row, is active.  A context from
 * act_as may name a user without a row (act_as does not require one), but
 * once this backend has seen its user's row, that row must stay; any other
 * context's user must still exist.
 */
void
tf_liveness_require(uint64 context_generation, const text *tenant_id,
					const text *user_id, const text *auth_method)
{
	LivenessEntry *entry;
	bool		asserted;

	if (context_generation == live_context_generation &&
		liveness_generation == live_liveness_generation &&
		provisional_lxid == InvalidLocalTransactionId)
		return;
	/* The lookup's own queries may read the context (tenant policies). */
	if (loading)
		return;

	entry = lookup(tenant_id, user_id);
	if (entry->tenant_status[0] == '\0')
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the context's tenant \"%s\" no longer exists", text_to_cstring(tenant_id)),
				 errhint("Clear the context with taskforce.clear_context().")));
	if (strcmp(entry->tenant_status, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the context's tenant \"%s\" is %s",
						text_to_cstring(tenant_id), entry->tenant_status),
				 errdetail("A context stops working when its tenant is no longer active."),
				 errhint("Clear the context with taskforce.clear_context().")));
	asserted = VARSIZE_ANY_EXHDR(auth_method) == strlen("act_as") &&
		memcmp(VARDATA_ANY(auth_method), "act_as", strlen("act_as")) == 0;
	if (entry->user_status[0] != '\0')
		user_seen_context_generation = context_generation;
	else if (!asserted || user_seen_context_generation == context_generation)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the context's user \"%s\" no longer exists", text_to_cstring(user_id)),
				 errhint("Clear the context with taskforce.clear_context() and authenticate again.")));
	if (entry->user_status[0] != '\0' && strcmp(entry->user_status, "active") != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_AUTHORIZATION_SPECIFICATION),
				 errmsg("the context's user \"%s\" is %s",
						text_to_cstring(user_id), entry->user_status),
				 errdetail("A context stops working when its user is deactivated."),
				 errhint("Clear the context with taskforce.clear_context().")));

	live_context_generation = context_generation;
	live_liveness_generation = loaded_generation;
}
