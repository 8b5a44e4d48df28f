/*-------------------------------------------------------------------------
 * src/util/owner.h
 *	  The owner of the taskforce extension, and running queries as it.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_UTIL_OWNER_H
#define TASKFORCE_UTIL_OWNER_H

#include "postgres.h"

extern Oid	tf_extension_owner(void);
extern bool tf_spi_as_owner(void (*load) (void *), void *arg);

#endif							/* TASKFORCE_UTIL_OWNER_H */
