/*-------------------------------------------------------------------------
 * src/util/owner.c
 *	  Running cache-loading queries as the owner of taskforce's tables.
 *
 * The per-backend caches read tables that ordinary roles may not read (the
 * key tables) or read only through tenant isolation.  They load them through
 * SPI as the tables' owner, the role that created the extension, the way
 * PostgreSQL runs referential-integrity queries as a table's owner.  An
 * error aborts the (sub)transaction, which restores the caller's user.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/syscache.h"

#include "util/owner.h"

/* Returns the owner of a relation. */
static Oid
relation_owner(Oid relid)
{
	HeapTuple	tuple = SearchSysCache1(RELOID, ObjectIdGetDatum(relid));
	Oid			owner;

	if (!HeapTupleIsValid(tuple))
		elog(ERROR, "cache lookup failed for relation %u", relid);
	owner = ((Form_pg_class) GETSTRUCT(tuple))->relowner;
	ReleaseSysCache(tuple);
	return owner;
}

/* Connects to SPI as the owner of relid, calls load(arg), and switches back. */
void
tf_spi_as_owner(Oid relid, void (*load) (void *), void *arg)
{
	Oid			saved_user;
	int			saved_sec;

	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(relation_owner(relid), saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	load(arg);
	SPI_finish();
	SetUserIdAndSecContext(saved_user, saved_sec);
}
