/*-------------------------------------------------------------------------
 * src/lifecycle/webhook_sign.c
 *	  Signatures of webhook deliveries (HMAC-SHA256 of the body under the
 *	  endpoint's secret, as "sha256=<hex>") and the optional NOTIFY
 *	  wake-up of delivery workers (setting taskforce.notify_events).
 *
 * The wake-up carries only the transaction id, the same text for every
 * event of a transaction: PostgreSQL folds identical notifications of a
 * transaction into one, so a transaction emitting many events sends one.
 * It is off by default because a transaction with a pending NOTIFY takes
 * a database-wide lock at commit, which serialises committing writers.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "commands/async.h"
#include "fmgr.h"
#include "mb/pg_wchar.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "crypto/crypto.h"
#include "lifecycle/webhook_sign.h"

#define TF_SIGNATURE_PREFIX "sha256="

static bool tf_notify_events = false;

/* Defines taskforce.notify_events. */
void
tf_webhook_init(void)
{
	DefineCustomBoolVariable("taskforce.notify_events",
							 "Sends one NOTIFY on channel taskforce_events per transaction that emits events.",
							 "The payload is the transaction id.  Off by default: a pending NOTIFY "
							 "serialises committing transactions on a global lock.",
							 &tf_notify_events,
							 false,
							 PGC_SUSET, 0,
							 NULL, NULL, NULL);
}

PG_FUNCTION_INFO_V1(taskforce_webhook_signature);

/*
 * taskforce._webhook_signature(secret bytea, body text): returns
 * 'sha256=' followed by the lower-case hex HMAC-SHA256 of the body's UTF-8
 * bytes (what is POSTed, whatever the database encoding) under the secret.
 */
Datum
taskforce_webhook_signature(PG_FUNCTION_ARGS)
{
	bytea	   *secret = PG_GETARG_BYTEA_PP(0);
	text	   *body = PG_GETARG_TEXT_PP(1);
	int			body_len = VARSIZE_ANY_EXHDR(body);
	char	   *utf8 = pg_server_to_any(VARDATA_ANY(body), body_len, PG_UTF8);
	uint8		mac[TF_SHA256_LEN];
	char	   *out;
	size_t		prefix_len = strlen(TF_SIGNATURE_PREFIX);

	if (VARSIZE_ANY_EXHDR(secret) == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("a webhook secret must not be empty")));
	if (!tf_hmac_sha256((const uint8 *) VARDATA_ANY(secret), VARSIZE_ANY_EXHDR(secret),
						(const uint8 *) utf8, utf8 == VARDATA_ANY(body) ? (size_t) body_len : strlen(utf8),
						mac))
		ereport(ERROR,
				(errcode(ERRCODE_EXTERNAL_ROUTINE_EXCEPTION),
				 errmsg("could not compute the webhook signature")));
	out = palloc(prefix_len + 2 * TF_SHA256_LEN + 1);
	memcpy(out, TF_SIGNATURE_PREFIX, prefix_len);
	hex_encode((const char *) mac, TF_SHA256_LEN, out + prefix_len);
	out[prefix_len + 2 * TF_SHA256_LEN] = '\0';
	PG_RETURN_TEXT_P(cstring_to_text(out));
}

PG_FUNCTION_INFO_V1(taskforce_events_notify);

/*
 * taskforce._events_notify(): when taskforce.notify_events is on, queues
 * NOTIFY taskforce_events with the top-level transaction id as payload
 * (identical within a transaction, so sent once at commit); returns
 * whether it did.
 */
Datum
taskforce_events_notify(PG_FUNCTION_ARGS)
{
	char		payload[32];

	if (!tf_notify_events)
		PG_RETURN_BOOL(false);
	snprintf(payload, sizeof(payload), UINT64_FORMAT,
			 U64FromFullTransactionId(GetTopFullTransactionId()));
	Async_Notify(TF_EVENTS_CHANNEL, payload);
	PG_RETURN_BOOL(true);
}
