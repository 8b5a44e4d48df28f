/*-------------------------------------------------------------------------
 * src/context/secret.c
 *	  The server secret that signs context values.
 *
 * An operator may supply the secret in taskforce.context_secret (needed
 * when several servers must accept each other's values).  Otherwise a
 * random secret is generated on first use and kept in shared memory, so
 * that the backend and its parallel workers agree on it; that requires
 * taskforce in shared_preload_libraries.  The secret lives no longer than
 * the server, which is as long as any context bound to a backend can.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "miscadmin.h"
#include "storage/ipc.h"
#include "storage/lwlock.h"
#include "storage/shmem.h"
#include "storage/spin.h"
#include "utils/guc.h"

#include "compat.h"
#include "context/secret.h"
#include "crypto/crypto.h"

#define TF_SECRET_LEN 32
#define TF_MIN_OPERATOR_SECRET_LEN 32

typedef struct TfSharedSecret
{
	slock_t		mutex;
	bool		ready;
	uint8		key[TF_SECRET_LEN];
} TfSharedSecret;

char	   *tf_context_secret_setting = NULL;

static TfSharedSecret *shared_secret = NULL;
static uint8 local_copy[TF_SECRET_LEN];
static bool local_copy_valid = false;

#if TF_HAS_SHMEM_REQUEST_HOOK
static shmem_request_hook_type prev_shmem_request_hook = NULL;
#endif
static shmem_startup_hook_type prev_shmem_startup_hook = NULL;

/* Requests the shared memory that holds the generated secret. */
static void
secret_shmem_request(void)
{
#if TF_HAS_SHMEM_REQUEST_HOOK
	if (prev_shmem_request_hook)
		prev_shmem_request_hook();
#endif
	RequestAddinShmemSpace(MAXALIGN(sizeof(TfSharedSecret)));
}

/* Attaches to (or creates) the shared secret slot; the key itself comes later. */
static void
secret_shmem_startup(void)
{
	bool		found;

	if (prev_shmem_startup_hook)
		prev_shmem_startup_hook();

	LWLockAcquire(AddinShmemInitLock, LW_EXCLUSIVE);
	shared_secret = ShmemInitStruct("taskforce context secret",
									sizeof(TfSharedSecret), &found);
	if (!found)
	{
		SpinLockInit(&shared_secret->mutex);
		shared_secret->ready = false;
	}
	LWLockRelease(AddinShmemInitLock);
}

/* Accepts an empty operator secret (use the generated one) or a long enough one. */
static bool
check_context_secret(char **newval, void **extra, GucSource source)
{
	if (*newval == NULL || (*newval)[0] == '\0')
		return true;
	if (strlen(*newval) < TF_MIN_OPERATOR_SECRET_LEN)
	{
		GUC_check_errcode(ERRCODE_INVALID_PARAMETER_VALUE);
		GUC_check_errmsg("taskforce.context_secret must be at least %d characters long",
						 TF_MIN_OPERATOR_SECRET_LEN);
		return false;
	}
	return true;
}

/* Defines the operator secret setting and, when preloaded, the shared slot. */
void
tf_secret_init(void)
{
	DefineCustomStringVariable("taskforce.context_secret",
							   "Secret that signs taskforce context values.",
							   "Leave empty to use a random secret generated on first use.",
							   &tf_context_secret_setting,
							   "",
							   PGC_SIGHUP,
							   GUC_SUPERUSER_ONLY | GUC_NO_SHOW_ALL | GUC_NOT_IN_SAMPLE,
							   check_context_secret, NULL, NULL);

	if (!process_shared_preload_libraries_in_progress)
		return;

#if TF_HAS_SHMEM_REQUEST_HOOK
	prev_shmem_request_hook = shmem_request_hook;
	shmem_request_hook = secret_shmem_request;
#else
	secret_shmem_request();
#endif
	prev_shmem_startup_hook = shmem_startup_hook;
	shmem_startup_hook = secret_shmem_startup;
}

/*
 * Returns the signing key: the operator's secret if set, else the shared
 * generated one (generating it on first use).  Returns false when neither
 * is available, that is, when taskforce was not preloaded.  Never throws.
 */
bool
tf_secret_get(const uint8 **key, size_t *key_len)
{
	if (tf_context_secret_setting != NULL && tf_context_secret_setting[0] != '\0')
	{
		*key = (const uint8 *) tf_context_secret_setting;
		*key_len = strlen(tf_context_secret_setting);
		return true;
	}

	if (!local_copy_valid)
	{
		uint8		fresh[TF_SECRET_LEN];

		if (shared_secret == NULL)
			return false;
		/* Generate outside the spinlock; the first backend to publish wins. */
		if (!tf_random_bytes(fresh, sizeof(fresh)))
			return false;
		SpinLockAcquire(&shared_secret->mutex);
		if (!shared_secret->ready)
		{
			memcpy(shared_secret->key, fresh, TF_SECRET_LEN);
			shared_secret->ready = true;
		}
		memcpy(local_copy, shared_secret->key, TF_SECRET_LEN);
		SpinLockRelease(&shared_secret->mutex);
		explicit_bzero(fresh, sizeof(fresh));
		local_copy_valid = true;
	}
	*key = local_copy;
	*key_len = TF_SECRET_LEN;
	return true;
}
