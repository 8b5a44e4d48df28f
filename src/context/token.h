/*-------------------------------------------------------------------------
 * src/context/token.h
 *	  Signing and verifying the value that carries a context.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_CONTEXT_TOKEN_H
#define TASKFORCE_CONTEXT_TOKEN_H

#include "postgres.h"

#include "datatype/timestamp.h"

typedef enum TfContextScope
{
	TF_SCOPE_TRANSACTION,
	TF_SCOPE_SESSION
} TfContextScope;

/* The identity a context value asserts, and what binds it to a backend. */
typedef struct TfContextClaims
{
	char	   *tenant_id;
	char	   *user_id;
	int			nroles;
	char	  **roles;
	int			nscopes;		/* -1: the context is not limited by scopes */
	char	  **scopes;
	char	   *auth_method;
	char	   *established_by;
	TfContextScope scope;
	TimestampTz issued_at;
	TimestampTz expires_at;
	int32		backend_pid;
	TimestampTz backend_start;
} TfContextClaims;

extern const char *tf_scope_name(TfContextScope scope);
extern char *tf_token_sign(const TfContextClaims *claims,
						   const uint8 *key, size_t key_len);
extern bool tf_token_verify(const char *value,
							const uint8 *key, size_t key_len,
							TfContextClaims *claims);
extern bool tf_token_decode(const char *value, TfContextClaims *claims);

#endif							/* TASKFORCE_CONTEXT_TOKEN_H */
