/*-------------------------------------------------------------------------
 * src/context/secret.h
 *	  The server secret that signs context values.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_CONTEXT_SECRET_H
#define TASKFORCE_CONTEXT_SECRET_H

#include "postgres.h"

extern char *tf_context_secret_setting;

extern void tf_secret_init(void);
extern bool tf_secret_get(const uint8 **key, size_t *key_len);

#endif							/* TASKFORCE_CONTEXT_SECRET_H */
