/*-------------------------------------------------------------------------
 * src/auth/current.c
 *	  Whether a credential that verified is still current.
 *
 * authenticate_api_key and authenticate_password read the key or the
 * password hash under the transaction's snapshot.  In a REPEATABLE READ
 * or SERIALIZABLE transaction that snapshot can predate a revocation, a
 * rotation or a new password, so a caller that opened such a transaction
 * while the credential was good could go on logging in with it (and
 * carry a session-scoped context out of the transaction) however long
 * ago it was revoked.  Before a context is established, the credential is
 * therefore checked again under a snapshot taken now.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "utils/builtins.h"

#include "util/owner.h"

/* The key is live: not revoked, not expired, not deleted. */
#define API_KEY_QUERY \
	"SELECT FROM taskforce.api_keys AS k" \
	" WHERE k.tenant_id = $1 AND k.user_id = $2 AND k.key_id = $3::pg_catalog.uuid" \
	"   AND k.revoked_at IS NULL" \
	"   AND (k.expires_at IS NULL OR k.expires_at > pg_catalog.clock_timestamp())"
/* The password that verified is still the user's. */
#define PASSWORD_QUERY \
	"SELECT FROM taskforce.user_credentials AS c" \
	" WHERE c.tenant_id = $1 AND c.user_id = $2 AND c.password_hash = $3"

typedef struct CurrentCheck
{
	const char *query;
	Datum		args[3];
	bool		current;
} CurrentCheck;

/* Runs the check's query; through tf_spi_as_owner, under a fresh snapshot. */
static void
run_check(void *arg)
{
	CurrentCheck *check = (CurrentCheck *) arg;
	Oid			types[3] = {TEXTOID, TEXTOID, TEXTOID};
	int			rc;

	rc = SPI_execute_with_args(check->query, 3, types, check->args, NULL, true, 1);
	if (rc != SPI_OK_SELECT)
		elog(ERROR, "checking a credential returned %s", SPI_result_code_string(rc));
	check->current = SPI_processed == 1;
}

PG_FUNCTION_INFO_V1(taskforce_credential_is_current);

/*
 * taskforce._credential_is_current(method, tenant_id, user_id, credential):
 * for 'api_key', credential is the key's key_id; for 'password', the hash
 * the password verified against.  True if it is still current.
 */
Datum
taskforce_credential_is_current(PG_FUNCTION_ARGS)
{
	CurrentCheck check;
	char	   *method;
	int			i;

	for (i = 0; i < 4; i++)
		if (PG_ARGISNULL(i))
			PG_RETURN_BOOL(false);
	method = text_to_cstring(PG_GETARG_TEXT_PP(0));
	if (strcmp(method, "api_key") == 0)
		check.query = API_KEY_QUERY;
	else if (strcmp(method, "password") == 0)
		check.query = PASSWORD_QUERY;
	else
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown credential method \"%s\"", method)));
	for (i = 0; i < 3; i++)
		check.args[i] = PG_GETARG_DATUM(i + 1);
	check.current = false;
	(void) tf_spi_as_owner(run_check, &check);
	PG_RETURN_BOOL(check.current);
}
