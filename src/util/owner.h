/*-------------------------------------------------------------------------
 * src/util/owner.h
 *	  Running cache-loading queries as the owner of taskforce's tables.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_UTIL_OWNER_H
#define TASKFORCE_UTIL_OWNER_H

#include "postgres.h"

extern void tf_spi_as_owner(Oid relid, void (*load) (void *), void *arg);

#endif							/* TASKFORCE_UTIL_OWNER_H */
