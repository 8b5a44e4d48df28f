/*-------------------------------------------------------------------------
 * src/util/owner.c
 *	  Running cache-loading queries as the owner of taskforce's tables.
 *
 * The per-backend caches read tables that ordinary roles may not read (the
 * key tables) or read only through tenant isolation.  They load them through
 * SPI as the extension's owner, the role that created it, the way
 * PostgreSQL runs referential-integrity queries as a table's owner.  An
 * error aborts the (sub)transaction, which restores the caller's user and
 * settings.
 *
 * A cache must not load with the caller's snapshot: a REPEATABLE READ
 * transaction, or a long statement, that has absorbed an invalidation
 * would store the rows from before the change as current, and nothing
 * would invalidate them again.  So, like PostgreSQL's catalog caches, the
 * loads run under a snapshot taken now, after the invalidation was
 * accepted: whatever change sent it is visible (a transaction becomes
 * visible before it sends its invalidations), and any later change sends
 * one that the cache has not yet seen.
 * *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include "access/genam.h"
#include "access/xact.h"
#include "access/htup_details.h"
#include "access/table.h"
#include "catalog/pg_extension.h"
#include "executor/spi.h"
#include "miscadmin.h"
#include "utils/fmgroids.h"
#include "utils/guc.h"
#include "utils/snapmgr.h"

#include "util/owner.h"

/* Returns the owner of the taskforce extension, or InvalidOid if it is not installed. */
Oid
tf_extension_owner(void)
{
	Relation	rel;
	ScanKeyData key;
	SysScanDesc scan;
	HeapTuple	tuple;
	Oid			owner = InvalidOid;

	rel = table_open(ExtensionRelationId, AccessShareLock);
	ScanKeyInit(&key, Anum_pg_extension_extname, BTEqualStrategyNumber,
				F_NAMEEQ, CStringGetDatum("taskforce"));
	scan = systable_beginscan(rel, ExtensionNameIndexId, true, NULL, 1, &key);
	tuple = systable_getnext(scan);
	if (HeapTupleIsValid(tuple))
		owner = ((Form_pg_extension) GETSTRUCT(tuple))->extowner;
	systable_endscan(scan);
	table_close(rel, AccessShareLock);
	return owner;
}

/*
 * Connects to SPI as the extension's owner, with search_path pinned to
 * pg_catalog (as in taskforce's SECURITY DEFINER functions, so that the
 * caller's schemas cannot supply an operator or function), calls
 * load(arg) under a fresh snapshot (read-only SPI queries use the active
 * one), and switches back.  Returns false when it had to load with the
 * caller's snapshot instead: in parallel mode no new snapshot may be
 * taken, and the caller must not keep what it loaded past the current
 * transaction.
 */
bool
tf_spi_as_owner(void (*load) (void *), void *arg)
{
	Oid			owner = tf_extension_owner();
	Oid			saved_user;
	int			saved_sec;
	int			nest_level;
	bool		fresh = !IsInParallelMode();

	if (!OidIsValid(owner))
		elog(ERROR, "the taskforce extension is not installed in this database");
	GetUserIdAndSecContext(&saved_user, &saved_sec);
	SetUserIdAndSecContext(owner, saved_sec | SECURITY_LOCAL_USERID_CHANGE);
	nest_level = NewGUCNestLevel();
	(void) set_config_option("search_path", "pg_catalog, pg_temp", PGC_USERSET, PGC_S_SESSION,
							 GUC_ACTION_SAVE, true, 0, false);
	if (SPI_connect() != SPI_OK_CONNECT)
		elog(ERROR, "SPI_connect failed");
	if (fresh)
		PushActiveSnapshot(GetLatestSnapshot());
	load(arg);
	if (fresh)
		PopActiveSnapshot();
	SPI_finish();
	AtEOXact_GUC(true, nest_level);
	SetUserIdAndSecContext(saved_user, saved_sec);
	return fresh;
}
