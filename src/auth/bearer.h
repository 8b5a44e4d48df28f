/*-------------------------------------------------------------------------
 * src/auth/bearer.h
 *	  Authentication with a bearer token, the per-request path.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_AUTH_BEARER_H
#define TASKFORCE_AUTH_BEARER_H

#include "postgres.h"

#include "datatype/timestamp.h"

/* The identity a verified token maps to, as authenticate_jwt needs it. */
typedef struct TfJwtIdentity
{
	const char *tenant_id;
	const char *user_id;
	const char *issuer;
	const char *kid;
	TimestampTz expires_at;
	bool		provision_users;
	bool		trust_token_roles;
} TfJwtIdentity;

/* In jwt.c: verifies the token and maps it; false when it fails (any reason). */
extern bool tf_jwt_verified_identity(text *token, TfJwtIdentity *id);

#endif							/* TASKFORCE_AUTH_BEARER_H */
