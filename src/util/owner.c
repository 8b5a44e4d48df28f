/*-------------------------------------------------------------------------
 * src/util/owner.c
 *	  Running cache-loading queries as the owner of taskforce's tables.
 *
 * The per-backend caches read tables that ordinary roles may not read (the
 * key tables) or read only through tenant isolation.  They load them through
 * SPI as the tables' owner, the role that created the extension, the way
 * PostgreSQL runs referential-integrity queries as a table's owner.  An
 * error aborts the (sub)transaction, which restores the caller's user and
 * settings.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "catalog/pg_class.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/guc.h"
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

/*
 * Connects to SPI as the owner of relid, with search_path pinned to
 * pg_catalog (as in taskforce's SECURITY DEFINER functions, so that the
 * caller's schemas cannot supply an operator or function), calls
 * load(arg), and switches back.
 */
void
tf_spi_as_owner(Oid relid, void (*load) (void *), void *arg)
{
	Oid			saved_user;
	int			saved_sec;
	int			nest_level;

	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(relation_owner(relid), saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	load(arg);
	SPI_finish();
	AtEOXact_GUC(true, nest_level);
	SetUserIdAndSecContext(saved_user, saved_sec);
}
