/*-------------------------------------------------------------------------
 * src/context/registry.c
 *	  Who is connected: each backend's current context, published in shared
 *	  memory for the live_contexts view.
 *
 * One slot per backend, indexed by its backend id and written only by that
 * backend, when the setting that carries its context changes (established,
 * cleared, or reverted at the end of its transaction) and when it exits.
 * An expired context stays in its slot until then; readers leave it out.
 * Nothing here writes a catalog, and the signed value is never copied.
 * Without shared_preload_libraries there are no slots and the view says so.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/parallel.h"
#include "fmgr.h"
#include "funcapi.h"
#include "mb/pg_wchar.h"
#include "miscadmin.h"
#include "storage/backendid.h"
#include "storage/ipc.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/builtins.h"
#include "utils/timestamp.h"

#include "compat.h"
#include "context/registry.h"

#define REGISTRY_NAME_BYTES 257	/* context names are at most 256 bytes */
#define REGISTRY_METHOD_BYTES 32

typedef struct TfRegistrySlot
{
	slock_t		mutex;
	bool		in_use;
	int			pid;
	Oid			database_id;
	TfContextScope scope;
	TimestampTz established_at;
	TimestampTz expires_at;
	char		tenant_id[REGISTRY_NAME_BYTES];
	char		user_id[REGISTRY_NAME_BYTES];
	char		auth_method[REGISTRY_METHOD_BYTES];
} TfRegistrySlot;

static TfRegistrySlot *registry = NULL;
static int	registry_slots = 0;
static bool exit_callback_registered = false;

static shmem_request_hook_type prev_shmem_request_hook = NULL;
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

PG_FUNCTION_INFO_V1(taskforce_live_context_slots);

/* Requests one slot per backend. */
static void
registry_shmem_request(void)
{
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
	RequestAddinShmemSpace(mul_size(MaxBackends, sizeof(TfRegistrySlot)));
}

/* Attaches to (or creates and empties) the slots. */
static void
registry_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	registry = ShmemInitStruct("taskforce live contexts",
							   mul_size(MaxBackends, sizeof(TfRegistrySlot)), &found);
	registry_slots = MaxBackends;
	if (!found)
	{
		for (int i = 0; i < registry_slots; i++)
		{
			SpinLockInit(&registry[i].mutex);
			registry[i].in_use = false;
		}
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Installs the shared memory hooks when preloaded. */
void
tf_registry_init(void)
{
	if (!process_shared_preload_libraries_in_progress)
		return;
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = registry_shmem_request;
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = registry_shmem_startup;
}

/* This backend's slot, or NULL (not preloaded, not a client backend). */
static TfRegistrySlot *
own_slot(void)
{
	if (registry == NULL || MyBackendType != B_BACKEND || IsParallelWorker() ||
		MyBackendId == InvalidBackendId || MyBackendId > registry_slots)
		return NULL;
	return &registry[MyBackendId - 1];
}

/* Empties this backend's slot as the backend exits. */
static void
registry_exit(int code, Datum arg)
{
	tf_registry_clear();
}

/* Copies a text value into a fixed buffer, cut at a character boundary. */
static void
copy_name(char *dest, int size, const text *value)
{
	int			len = VARSIZE_ANY_EXHDR(value);

	if (len >= size)
		len = pg_mbcliplen(VARDATA_ANY(value), len, size - 1);
	memcpy(dest, VARDATA_ANY(value), len);
	dest[len] = '\0';
}

/* Publishes this backend's current context. */
void
tf_registry_publish(const text *tenant_id, const text *user_id, const text *auth_method,
					TfContextScope scope, TimestampTz established_at, TimestampTz expires_at)
{
	TfRegistrySlot *slot = own_slot();
	TfRegistrySlot copy;

	if (slot == NULL)
		return;
	if (!exit_callback_registered)
	{
		before_shmem_exit(registry_exit, (Datum) 0);
		exit_callback_registered = true;
	}
	copy.in_use = true;
	copy.pid = MyProcPid;
	copy.database_id = MyDatabaseId;
	copy.scope = scope;
	copy.established_at = established_at;
	copy.expires_at = expires_at;
	copy_name(copy.tenant_id, sizeof(copy.tenant_id), tenant_id);
	copy_name(copy.user_id, sizeof(copy.user_id), user_id);
	copy_name(copy.auth_method, sizeof(copy.auth_method), auth_method);

	SpinLockAcquire(&slot->mutex);
	slot->in_use = true;
	slot->pid = copy.pid;
	slot->database_id = copy.database_id;
	slot->scope = copy.scope;
	slot->established_at = copy.established_at;
	slot->expires_at = copy.expires_at;
	memcpy(slot->tenant_id, copy.tenant_id, sizeof(copy.tenant_id));
	memcpy(slot->user_id, copy.user_id, sizeof(copy.user_id));
	memcpy(slot->auth_method, copy.auth_method, sizeof(copy.auth_method));
	SpinLockRelease(&slot->mutex);
}

/* Empties this backend's slot: it holds no context. */
void
tf_registry_clear(void)
{
	TfRegistrySlot *slot = own_slot();

	if (slot == NULL)
		return;
	SpinLockAcquire(&slot->mutex);
	slot->in_use = false;
	SpinLockRelease(&slot->mutex);
}

/*
 * _live_context_slots(): the unexpired context of every backend connected
 * to this database, unfiltered (live_contexts filters by caller).  Raises
 * when not preloaded.
 */
Datum
taskforce_live_context_slots(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	TimestampTz now = GetCurrentTimestamp();

	if (registry == NULL)
		ereport(ERROR,
				(errcode(ERRCODE_OBJECT_NOT_IN_PREREQUISITE_STATE),
				 errmsg("live contexts are only recorded when taskforce is preloaded"),
				 errhint("Add taskforce to shared_preload_libraries and restart the server.")));

	InitMaterializedSRF(fcinfo, 0);
	for (int i = 0; i < registry_slots; i++)
	{
		TfRegistrySlot copy;
		Datum		values[7];
		bool		nulls[7] = {false};

		SpinLockAcquire(&registry[i].mutex);
		memcpy(&copy, &registry[i], sizeof(copy));
		SpinLockRelease(&registry[i].mutex);
		/* Tenants are per database: another database's are none of ours. */
		if (!copy.in_use || copy.database_id != MyDatabaseId || copy.expires_at <= now)
			continue;
		values[0] = Int32GetDatum(copy.pid);
		values[1] = CStringGetTextDatum(copy.tenant_id);
		values[2] = CStringGetTextDatum(copy.user_id);
		values[3] = CStringGetTextDatum(copy.auth_method);
		values[4] = CStringGetTextDatum(copy.scope == TF_SCOPE_SESSION ? "session" : "transaction");
		values[5] = TimestampTzGetDatum(copy.established_at);
		values[6] = TimestampTzGetDatum(copy.expires_at);
		tuplestore_putvalues(rsinfo->setResult, rsinfo->setDesc, values, nulls);
	}
	return (Datum) 0;
}
