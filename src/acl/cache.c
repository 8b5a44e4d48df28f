/*-------------------------------------------------------------------------
 * src/acl/cache.c
 *	  Per-backend caches of what ACL decisions read: resources' ACL rows,
 *	  identities (roles, projects, sessions, grants) and tenants' policies.
 *
 * Like the permission cache (src/rbac/rbac.c), the caches are dropped
 * whenever a relcache invalidation arrives for a table they load from
 * (acl.sql and rbac.sql put triggers on them that send one at commit), so
 * that a grant or revoke takes effect in every session by its next
 * transaction.  Loads run as the extension owner under a fresh snapshot
 * (util/owner.c).  Resources are loaded one at a time when first checked,
 * and the resource cache starts over past MAX_CACHED_RESOURCES, so a
 * backend holds what its queries touch, not every ACL of a tenant.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/namespace.h"
#include "catalog/pg_type.h"
#include "common/hashfn.h"
#include "executor/spi.h"
#include "lib/stringinfo.h"
#include "utils/builtins.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/timestamp.h"
#include "access/xact.h"

#include "acl/acl.h"
#include "util/owner.h"

#define MAX_CACHED_RESOURCES 200000
#define MAX_CACHED_IDENTITIES 10000
#define MAX_ID_LEN TF_ACL_MAX_ID

typedef struct ResourceEntry
{
	uint64		hash;			/* hash key: must be first */
	char	   *key;			/* tenant NUL resource id, to rule out collisions */
	int			key_len;
	bool		exists;
	TfAclResource res;
} ResourceEntry;

typedef struct IdentityEntry
{
	uint64		hash;			/* hash key: must be first */
	char	   *key;
	int			key_len;		/* -1 while loading */
	TfAclIdentity id;
} IdentityEntry;

typedef struct PolicyEntry
{
	char		tenant_id[MAX_ID_LEN];	/* hash key */
	TfAclPolicies policies;
} PolicyEntry;

typedef struct IdEntry
{
	char		id[MAX_ID_LEN];
} IdEntry;

static const char *const watched_tables[] = {
	"resource_acls", "resource_grants", "session_participants", "resource_policies",
	"projects", "project_members", "team_members", "role_grants", "roles", "users"
};
#define NUM_WATCHED lengthof(watched_tables)

static MemoryContext acl_memory = NULL;
static MemoryContext resource_memory = NULL;
static MemoryContext identity_memory = NULL;
static uint64 identity_epoch = 0;	/* changes when the identity cache starts over */
static HTAB *resources = NULL;
static HTAB *identities = NULL;
static HTAB *policies = NULL;
static Oid	watched_oids[NUM_WATCHED];
static uint64 acl_generation = 1;
static uint64 loaded_generation = 0;
static bool callback_registered = false;
static SPIPlanPtr resource_plan = NULL;
static SPIPlanPtr identity_plan = NULL;
static SPIPlanPtr policy_plan = NULL;
static SPIPlanPtr lock_plan = NULL;

static void
acl_relcache_callback(Datum arg, Oid relid)
{
	if (relid == InvalidOid)
	{
		acl_generation++;
		return;
	}
	for (int i = 0; i < (int) NUM_WATCHED; i++)
		if (watched_oids[i] == relid)
		{
			acl_generation++;
			return;
		}
}

static HTAB *
string_set(const char *name, MemoryContext cxt)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAX_ID_LEN;
	ctl.entrysize = sizeof(IdEntry);
	ctl.hcxt = cxt;
	return hash_create(name, 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
}

static void
reset_identities(void)
{
	HASHCTL		ctl;

	MemoryContextReset(identity_memory);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(IdentityEntry);
	ctl.hcxt = identity_memory;
	identities = hash_create("taskforce acl identities", 64, &ctl,
							 HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	identity_epoch++;
}

/* Changes whenever identities loaded earlier may have been freed. */
uint64
tf_acl_identity_epoch(void)
{
	return identity_epoch;
}

static void
reset_resources(void)
{
	HASHCTL		ctl;

	MemoryContextReset(resource_memory);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(uint64);
	ctl.entrysize = sizeof(ResourceEntry);
	ctl.hcxt = resource_memory;
	resources = hash_create("taskforce acl resources", 1024, &ctl,
							HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
}

/*
 * Makes the caches current: after any invalidation, drops them all.
 * Returns the generation of what they hold, for callers' memos.
 */
uint64
tf_acl_ensure_caches(void)
{
	uint64		generation = acl_generation;
	HASHCTL		ctl;
	Oid			schema;

	if (loaded_generation == generation && resources != NULL)
		return loaded_generation;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(acl_relcache_callback, (Datum) 0);
		callback_registered = true;
	}
	if (acl_memory == NULL)
	{
		acl_memory = AllocSetContextCreate(CacheMemoryContext, "taskforce acl cache",
										   ALLOCSET_DEFAULT_SIZES);
		resource_memory = AllocSetContextCreate(CacheMemoryContext, "taskforce acl resources",
												ALLOCSET_DEFAULT_SIZES);
		identity_memory = AllocSetContextCreate(CacheMemoryContext, "taskforce acl identities",
												ALLOCSET_DEFAULT_SIZES);
	}
	MemoryContextReset(acl_memory);
	resources = identities = policies = NULL;

	schema = get_namespace_oid("taskforce", false);
	for (int i = 0; i < (int) NUM_WATCHED; i++)
		watched_oids[i] = get_relname_relid(watched_tables[i], schema);
	if (!OidIsValid(watched_oids[0]))
		elog(ERROR, "taskforce.resource_acls is missing");

	reset_resources();
	reset_identities();
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAX_ID_LEN;
	ctl.entrysize = sizeof(PolicyEntry);
	ctl.hcxt = acl_memory;
	policies = hash_create("taskforce acl policies", 16, &ctl,
						   HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);

	/* An invalidation that arrives while loading makes the next call start over. */
	loaded_generation = generation;
	return loaded_generation;
}

TfAclSensitivity
tf_acl_parse_sensitivity(const char *s)
{
	if (strcmp(s, "public") == 0)
		return TF_SENS_PUBLIC;
	if (strcmp(s, "internal") == 0)
		return TF_SENS_INTERNAL;
	if (strcmp(s, "confidential") == 0)
		return TF_SENS_CONFIDENTIAL;
	if (strcmp(s, "restricted") == 0)
		return TF_SENS_RESTRICTED;
	elog(ERROR, "unknown sensitivity \"%s\" in taskforce.resource_acls", s);
	pg_unreachable();
}

TfAclScope
tf_acl_parse_scope(const char *s)
{
	if (strcmp(s, "global") == 0)
		return TF_ACL_SCOPE_GLOBAL;
	if (strcmp(s, "tenant") == 0)
		return TF_ACL_SCOPE_TENANT;
	if (strcmp(s, "project") == 0)
		return TF_ACL_SCOPE_PROJECT;
	if (strcmp(s, "session") == 0)
		return TF_ACL_SCOPE_SESSION;
	if (strcmp(s, "private") == 0)
		return TF_ACL_SCOPE_PRIVATE;
	elog(ERROR, "unknown scope \"%s\" in taskforce.resource_acls", s);
	pg_unreachable();
}

/* Permission bits of a list like "read,write" (sep ',') or "{read,write}". */
int
tf_acl_parse_permission_list(const char *list, char sep)
{
	int			bits = 0;
	const char *p = list;

	if (*p == '{')
		p++;
	while (*p && *p != '}')
	{
		const char *end = p;
		int			bit;

		while (*end && *end != sep && *end != '}')
			end++;
		bit = tf_acl_permission_bit(p, end - p);
		if (bit == 0)
			elog(ERROR, "unknown permission \"%.*s\" in an ACL table", (int) (end - p), p);
		bits |= bit;
		p = (*end == sep) ? end + 1 : end;
	}
	return bits;
}

static SPIPlanPtr
keep_plan(SPIPlanPtr *slot, const char *query, int nargs, Oid *types)
{
	if (*slot == NULL)
	{
		SPIPlanPtr	plan = SPI_prepare(query, nargs, types);

		if (plan == NULL || SPI_keepplan(plan) != 0)
			elog(ERROR, "could not prepare \"%s\": %s", query, SPI_result_code_string(SPI_result));
		*slot = plan;
	}
	return *slot;
}

static char *
copy_value(int col, MemoryContext cxt)
{
	char	   *v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, col);

	return v ? MemoryContextStrdup(cxt, v) : NULL;
}

typedef struct ResourceLoad
{
	const char *tenant_id;
	const char *resource_id;
	ResourceEntry *entry;
} ResourceLoad;

static void
load_resource(void *arg)
{
	ResourceLoad *load = (ResourceLoad *) arg;
	TfAclResource *res = &load->entry->res;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	int			rc;
	char	   *v;

	args[0] = CStringGetTextDatum(load->tenant_id);
	args[1] = CStringGetTextDatum(load->resource_id);
	/*
	 * The resource of the caller's tenant, else a global one of another
	 * tenant.  A prepared plan, not a SQL function: a function with a SET
	 * clause is parsed and planned again on every call (about 200 us).
	 */
	rc = SPI_execute_plan(keep_plan(&resource_plan,
									"(SELECT a.tenant_id, a.resource_type, a.owner_id, a.sensitivity,"
									" a.scope, a.project_id, a.session_id, a.default_permissions"
									" FROM taskforce.resource_acls AS a"
									" WHERE a.tenant_id = $1 AND a.resource_id = $2"
									" UNION ALL"
									" SELECT a.tenant_id, a.resource_type, a.owner_id, a.sensitivity,"
									" a.scope, a.project_id, a.session_id, a.default_permissions"
									" FROM taskforce.resource_acls AS a"
									" WHERE a.resource_id = $2 AND a.scope = 'global')"
									" LIMIT 1", 2, types),
						  args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "taskforce ACL query failed: %s", SPI_result_code_string(rc));
	load->entry->exists = (SPI_processed == 1);
	if (!load->entry->exists)
		return;
	res->tenant_id = copy_value(1, resource_memory);
	res->resource_id = MemoryContextStrdup(resource_memory, load->resource_id);
	res->resource_type = copy_value(2, resource_memory);
	res->owner_id = copy_value(3, resource_memory);
	v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 4);
	res->sensitivity = tf_acl_parse_sensitivity(v);
	v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 5);
	res->scope = tf_acl_parse_scope(v);
	res->project_id = copy_value(6, resource_memory);
	res->session_id = copy_value(7, resource_memory);
	v = SPI_getvalue(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 8);
	res->default_permissions = tf_acl_parse_permission_list(v, ',');
}

/*
 * The ACL a check in tenant_id applies to resource_id (the tenant's own,
 * else a global one of another tenant), or NULL if there is none.
 */
const TfAclResource *
tf_acl_resource(const char *tenant_id, const char *resource_id)
{
	char		buffer[2 * MAX_ID_LEN];
	size_t		tenant_len = strlen(tenant_id);
	size_t		id_len = strlen(resource_id);
	int			key_len = tenant_len + 1 + id_len;
	char	   *key;
	uint64		hash;
	ResourceEntry *entry;
	bool		found;
	ResourceLoad load;

	if (hash_get_num_entries(resources) >= MAX_CACHED_RESOURCES)
		reset_resources();
	/* tenant NUL resource id; on the stack: this runs once a row in a scan */
	key = key_len <= (int) sizeof(buffer) ? buffer : palloc(key_len);
	memcpy(key, tenant_id, tenant_len);
	key[tenant_len] = '\0';
	memcpy(key + tenant_len + 1, resource_id, id_len);
	hash = hash_bytes_extended((const unsigned char *) key, key_len, 0);

	entry = hash_search(resources, &hash, HASH_ENTER, &found);
	if (found && entry->key_len == key_len && memcmp(entry->key, key, key_len) == 0)
	{
		if (key != buffer)
			pfree(key);
		return entry->exists ? &entry->res : NULL;
	}
	/* Well-formed (and never matching) until loaded. */
	entry->key = MemoryContextAlloc(resource_memory, key_len);
	memcpy(entry->key, key, key_len);
	if (key != buffer)
		pfree(key);
	entry->key_len = -1;
	entry->exists = false;
	load.tenant_id = tenant_id;
	load.resource_id = resource_id;
	load.entry = entry;
	(void) tf_spi_as_owner(load_resource, &load);
	entry->key_len = key_len;
	return entry->exists ? &entry->res : NULL;
}

typedef struct IdentityLoad
{
	const text *tenant_id;
	const text *user_id;
	ArrayType  *asserted_roles;
	TfAclIdentity *id;
} IdentityLoad;

static void
load_identity(void *arg)
{
	IdentityLoad *load = (IdentityLoad *) arg;
	TfAclIdentity *id = load->id;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTARRAYOID};
	Datum		args[3];
	char		nulls[3] = {' ', ' ', load->asserted_roles ? ' ' : 'n'};
	HASHCTL		ctl;
	int			rc;
	MemoryContext old;

	args[0] = PointerGetDatum(load->tenant_id);
	args[1] = PointerGetDatum(load->user_id);
	args[2] = PointerGetDatum(load->asserted_roles);
	rc = SPI_execute_plan(keep_plan(&identity_plan,
									"SELECT kind, key, value, expires_at, principal"
									" FROM taskforce._acl_identity($1, $2, $3)", 3, types),
						  args, nulls, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "taskforce ACL identity query failed: %s", SPI_result_code_string(rc));

	old = MemoryContextSwitchTo(identity_memory);
	id->tenant_id = text_to_cstring(load->tenant_id);
	id->user_id = text_to_cstring(load->user_id);
	id->roles = palloc(sizeof(char *) * Max(SPI_processed, 1));
	id->nroles = 0;
	id->projects = string_set("taskforce acl projects", identity_memory);
	id->sessions = string_set("taskforce acl sessions", identity_memory);
	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = MAX_ID_LEN;
	ctl.entrysize = sizeof(TfAclGrantList);
	ctl.hcxt = identity_memory;
	id->grants = hash_create("taskforce acl grants", 16, &ctl, HASH_ELEM | HASH_STRINGS | HASH_CONTEXT);
	id->valid_until = DT_NOEND;

	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		char	   *kind = SPI_getvalue(tuple, desc, 1);
		char	   *key = SPI_getvalue(tuple, desc, 2);
		bool		isnull;
		Datum		expires = SPI_getbinval(tuple, desc, 4, &isnull);
		TimestampTz expires_at = isnull ? DT_NOEND : DatumGetTimestampTz(expires);

		if (key == NULL || strlen(key) >= MAX_ID_LEN)
			continue;
		if (strcmp(kind, "role") == 0)
		{
			id->roles[id->nroles++] = pstrdup(key);
			if (expires_at < id->valid_until)
				id->valid_until = expires_at;
		}
		else if (strcmp(kind, "project") == 0)
			(void) hash_search(id->projects, key, HASH_ENTER, NULL);
		else if (strcmp(kind, "session") == 0)
			(void) hash_search(id->sessions, key, HASH_ENTER, NULL);
		else if (strcmp(kind, "grant") == 0)
		{
			bool		found;
			TfAclGrantList *list = hash_search(id->grants, key, HASH_ENTER, &found);
			TfAclGrant *g = palloc(sizeof(TfAclGrant));

			g->permissions = tf_acl_parse_permission_list(SPI_getvalue(tuple, desc, 3), ',');
			g->expires_at = expires_at;
			g->principal = SPI_getvalue(tuple, desc, 5);
			g->next = found ? list->first : NULL;
			list->first = g;
		}
	}
	MemoryContextSwitchTo(old);
}

/* Serialises an identity: tenant, user and asserted roles, NUL-separated. */
static void
identity_key(StringInfo key, const text *tenant, const text *user, ArrayType *roles)
{
	appendBinaryStringInfo(key, VARDATA_ANY(tenant), VARSIZE_ANY_EXHDR(tenant));
	appendStringInfoChar(key, '\0');
	appendBinaryStringInfo(key, VARDATA_ANY(user), VARSIZE_ANY_EXHDR(user));
	appendStringInfoChar(key, '\0');
	if (roles != NULL)
	{
		Datum	   *elems;
		bool	   *nulls;
		int			n;

		deconstruct_array(roles, TEXTOID, -1, false, TYPALIGN_INT, &elems, &nulls, &n);
		for (int i = 0; i < n; i++)
		{
			text	   *r;

			if (nulls[i])
				continue;
			r = DatumGetTextPP(elems[i]);
			appendBinaryStringInfo(key, VARDATA_ANY(r), VARSIZE_ANY_EXHDR(r));
			appendStringInfoChar(key, '\0');
		}
	}
	else
		appendStringInfoChar(key, '\1');	/* a named user: role grants only */
}

/*
 * The identity of a user of a tenant with the roles its credential
 * asserted (NULL for a named user: its role grants only), loaded on a miss
 * or once the first of its role grants has expired.
 */
const TfAclIdentity *
tf_acl_identity(const text *tenant_id, const text *user_id, ArrayType *asserted_roles)
{
	StringInfoData key;
	uint64		hash;
	IdentityEntry *entry;
	bool		found;
	IdentityLoad load;

	/* Only the identities start over: resources the caller holds stay valid. */
	if (hash_get_num_entries(identities) >= MAX_CACHED_IDENTITIES)
		reset_identities();
	initStringInfo(&key);
	identity_key(&key, tenant_id, user_id, asserted_roles);
	hash = hash_bytes_extended((const unsigned char *) key.data, key.len, 0);

	entry = hash_search(identities, &hash, HASH_ENTER, &found);
	if (found && entry->key_len == key.len && memcmp(entry->key, key.data, key.len) == 0 &&
		entry->id.valid_until > GetCurrentTransactionStartTimestamp())
	{
		pfree(key.data);
		return &entry->id;
	}
	entry->key = MemoryContextAlloc(identity_memory, key.len);
	memcpy(entry->key, key.data, key.len);
	entry->key_len = -1;
	memset(&entry->id, 0, sizeof(entry->id));
	entry->id.valid_until = DT_NOBEGIN;
	load.tenant_id = tenant_id;
	load.user_id = user_id;
	load.asserted_roles = asserted_roles;
	load.id = &entry->id;
	(void) tf_spi_as_owner(load_identity, &load);
	entry->key_len = key.len;
	pfree(key.data);
	return &entry->id;
}

static void
load_policies(void *arg)
{
	PolicyEntry *entry = (PolicyEntry *) arg;
	Oid			types[1] = {TEXTOID};
	Datum		args[1];
	int			rc;
	MemoryContext old;

	args[0] = CStringGetTextDatum(entry->tenant_id);
	rc = SPI_execute_plan(keep_plan(&policy_plan,
									"SELECT scope, sensitivity, policy_id, requires_audit, allowed_roles"
									" FROM taskforce._acl_policies($1)", 1, types),
						  args, NULL, true, 0);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "taskforce ACL policy query failed: %s", SPI_result_code_string(rc));
	old = MemoryContextSwitchTo(acl_memory);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tuple = SPI_tuptable->vals[i];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		TfAclPolicy *p = &entry->policies.by[tf_acl_parse_scope(SPI_getvalue(tuple, desc, 1))]
			[tf_acl_parse_sensitivity(SPI_getvalue(tuple, desc, 2))];
		bool		isnull;
		Datum		roles;

		p->exists = true;
		p->policy_id = SPI_getvalue(tuple, desc, 3);
		p->requires_audit = DatumGetBool(SPI_getbinval(tuple, desc, 4, &isnull));
		roles = SPI_getbinval(tuple, desc, 5, &isnull);
		p->nallowed = -1;
		if (!isnull)
		{
			Datum	   *elems;
			bool	   *nulls;
			int			n;

			deconstruct_array(DatumGetArrayTypeP(roles), TEXTOID, -1, false, TYPALIGN_INT,
							  &elems, &nulls, &n);
			p->allowed_roles = palloc(sizeof(char *) * Max(n, 1));
			p->nallowed = 0;
			for (int j = 0; j < n; j++)
				if (!nulls[j])
					p->allowed_roles[p->nallowed++] = TextDatumGetCString(elems[j]);
		}
	}
	MemoryContextSwitchTo(old);
}

/* A tenant's policies by scope and sensitivity (all absent if it has none). */
const TfAclPolicies *
tf_acl_policies(const char *tenant_id)
{
	PolicyEntry *entry;
	bool		found;

	if (strlen(tenant_id) >= MAX_ID_LEN)
		elog(ERROR, "tenant id too long");
	entry = hash_search(policies, tenant_id, HASH_FIND, &found);
	if (entry != NULL)
		return &entry->policies;
	entry = hash_search(policies, tenant_id, HASH_ENTER, &found);
	memset(&entry->policies, 0, sizeof(entry->policies));
	PG_TRY();
	{
		(void) tf_spi_as_owner(load_policies, entry);
	}
	PG_CATCH();
	{
		(void) hash_search(policies, tenant_id, HASH_REMOVE, NULL);
		PG_RE_THROW();
	}
	PG_END_TRY();
	return &entry->policies;
}

typedef struct LockForWrite
{
	const char *tenant_id;
	const char *resource_id;
	bool		locked;
} LockForWrite;

static void
lock_for_write(void *arg)
{
	LockForWrite *lock = (LockForWrite *) arg;
	Oid			types[2] = {TEXTOID, TEXTOID};
	Datum		args[2];
	int			rc;

	args[0] = CStringGetTextDatum(lock->tenant_id);
	args[1] = CStringGetTextDatum(lock->resource_id);
	rc = SPI_execute_plan(keep_plan(&lock_plan,
									"SELECT FROM taskforce.resource_acls"
									" WHERE tenant_id = $1 AND resource_id = $2 FOR KEY SHARE",
									2, types),
						  args, NULL, false, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "taskforce ACL lock failed: %s", SPI_result_code_string(rc));
	lock->locked = (SPI_processed == 1);
}

/*
 * Locks a resource's ACL row against deletion until the end of the
 * transaction (FOR KEY SHARE), before a row naming it is written: drop_acl
 * and retention lock the ACL row FOR UPDATE before they look for the rows
 * that name it, so a row is never written for a resource whose ACL is going
 * away (it would be left to whoever takes the id next).  False when the
 * ACL is gone.
 */
bool
tf_acl_lock_for_write(const char *tenant_id, const char *resource_id)
{
	LockForWrite lock;

	lock.tenant_id = tenant_id;
	lock.resource_id = resource_id;
	lock.locked = false;
	(void) tf_spi_as_owner(lock_for_write, &lock);
	return lock.locked;
}
