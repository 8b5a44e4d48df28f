/*
 * src/audit/append.c: writes audit entries straight into their partition of
 * taskforce.audit_log.
 *
 * An INSERT through SPI plans nothing per row but still starts an executor,
 * routes the row through the partitioned table and checks permissions and
 * row security each time, which cost audited writers more than their own
 * insert did.  Entries do not need any of it: the writer runs as the
 * extension and fills every NOT NULL column itself, and audit_log has no
 * triggers or other constraints.  So the entry goes to the partition with
 * table_tuple_insert and its indexes with ExecInsertIndexTuples, the way
 * logical replication applies a row.
 *
 * What that needs (the parent's oid and row type, the partition of the
 * current transaction's month, its indexes' IndexInfo, a slot, an EState)
 * is cached across calls and transactions, holding no relcache reference
 * (an open reference would make ALTER or DROP of a partition fail in the
 * same session): a relcache invalidation of the parent, the partition or
 * all relations drops the cache, and each call takes its locks before
 * trusting it, so that an invalidation the lock brings in is seen.
 */
#include "postgres.h"

#include "access/attmap.h"
#include "access/genam.h"
#include "access/relation.h"
#include "access/table.h"
#include "access/tableam.h"
#include "access/xact.h"
#include "catalog/index.h"
#include "catalog/namespace.h"
#include "executor/executor.h"
#include "miscadmin.h"
#include "nodes/execnodes.h"
#include "partitioning/partbounds.h"
#include "partitioning/partdesc.h"
#include "storage/lmgr.h"
#include "storage/proc.h"
#include "utils/inval.h"
#include "utils/lsyscache.h"
#include "utils/memutils.h"
#include "utils/partcache.h"
#include "utils/rel.h"

#include "audit/append.h"
#include "audit/encode.h"

typedef struct AppendCache
{
	bool		valid;			/* cleared by a relevant invalidation */
	MemoryContext cxt;			/* the parent's part, reset by rebuild_parent */
	MemoryContext part_cxt;		/* the partition's part (a child), reset by load_partition */
	Oid			parent;
	TupleDesc	parent_desc;
	TfAuditColumns parent_columns;	/* the encoded columns in parent_desc */
	/* the partition of the transaction part_lxid's month */
	LocalTransactionId part_lxid;
	Oid			part;
	AttrMap    *map;			/* parent to partition columns; NULL if equal */
	int			nindexes;
	Oid		   *index_oids;
	IndexInfo **index_info;
	TupleTableSlot *slot;
	EState	   *estate;
} AppendCache;

static AppendCache cache;
static bool callback_registered = false;

static void
invalidate(Datum arg, Oid relid)
{
	if (relid == InvalidOid || relid == cache.parent || relid == cache.part)
		cache.valid = false;
}

/* Forgets everything and looks up taskforce.audit_log again. */
static void
rebuild_parent(void)
{
	Oid			nsp;
	Relation	parent;
	MemoryContext old;

	if (!callback_registered)
	{
		CacheRegisterRelcacheCallback(invalidate, (Datum) 0);
		callback_registered = true;
	}
	if (cache.cxt == NULL)
		cache.cxt = AllocSetContextCreate(TopMemoryContext, "taskforce audit append",
										  ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cache.cxt);	/* deletes part_cxt too */
	cache.part_cxt = NULL;
	cache.parent = InvalidOid;
	cache.part = InvalidOid;
	cache.part_lxid = InvalidLocalTransactionId;
	cache.valid = false;		/* until the end: an error leaves the cache to rebuild */

	nsp = get_namespace_oid("taskforce", true);
	cache.parent = OidIsValid(nsp) ? get_relname_relid("audit_log", nsp) : InvalidOid;
	if (!OidIsValid(cache.parent))
		ereport(ERROR, (errcode(ERRCODE_UNDEFINED_TABLE),
						errmsg("taskforce.audit_log does not exist"),
						errhint("Is the taskforce extension installed in this database?")));
	parent = table_open(cache.parent, RowExclusiveLock);
	old = MemoryContextSwitchTo(cache.cxt);
	cache.parent_desc = CreateTupleDescCopy(RelationGetDescr(parent));
	MemoryContextSwitchTo(old);
	tf_audit_resolve_columns(cache.parent_desc, &cache.parent_columns);
	table_close(parent, NoLock);
	/* read after the lock: any invalidation the lock brought in is reflected */
	cache.valid = true;
}

/* The partition holding logged_at, as get_partition_for_tuple routes a row. */
static Oid
find_partition(Relation parent, TimestampTz logged_at)
{
	PartitionKey key = RelationGetPartitionKey(parent);
	PartitionDesc pd = RelationGetPartitionDesc(parent, true);
	Datum		value = TimestampTzGetDatum(logged_at);
	bool		equal;
	int			index = -1;

	if (pd->boundinfo != NULL)
	{
		int			offset = partition_range_datum_bsearch(key->partsupfunc, key->partcollation,
														   pd->boundinfo, 1, &value, &equal);

		index = pd->boundinfo->indexes[offset + 1];
		if (index < 0)
			index = pd->boundinfo->default_index;
	}
	if (index < 0)
		ereport(ERROR, (errcode(ERRCODE_CHECK_VIOLATION),
						errmsg("no partition of taskforce.audit_log holds entries of this month"),
						errhint("Run taskforce.create_audit_partitions(), or recreate the default partition.")));
	return pd->oids[index];
}

/* Caches what inserting into partition part needs. */
static void
load_partition(Oid part)
{
	Relation	rel = table_open(part, RowExclusiveLock);
	List	   *indexes = RelationGetIndexList(rel);
	MemoryContext old;
	TupleDesc	desc;
	ListCell   *lc;
	int			i = 0;

	if (cache.part_cxt == NULL)
		cache.part_cxt = AllocSetContextCreate(cache.cxt, "taskforce audit append partition",
											   ALLOCSET_SMALL_SIZES);
	else
		MemoryContextReset(cache.part_cxt);
	old = MemoryContextSwitchTo(cache.part_cxt);
	desc = CreateTupleDescCopy(RelationGetDescr(rel));
	cache.part = InvalidOid;	/* set last: an error below leaves no half-built cache */
	cache.map = build_attrmap_by_name_if_req(cache.parent_desc, desc);
	cache.nindexes = list_length(indexes);
	cache.index_oids = palloc(sizeof(Oid) * Max(cache.nindexes, 1));
	cache.index_info = palloc(sizeof(IndexInfo *) * Max(cache.nindexes, 1));
	foreach(lc, indexes)
	{
		Relation	index = index_open(lfirst_oid(lc), RowExclusiveLock);

		cache.index_oids[i] = lfirst_oid(lc);
		cache.index_info[i] = BuildIndexInfo(index);
		index_close(index, NoLock);
		i++;
	}
	cache.slot = MakeSingleTupleTableSlot(desc, &TTSOpsVirtual);
	cache.estate = CreateExecutorState();
	cache.part = part;
	MemoryContextSwitchTo(old);
	list_free(indexes);
	table_close(rel, NoLock);
}

/* Locks what the entry touches and makes sure the cache describes it. */
static void
prepare(TimestampTz logged_at)
{
	for (;;)
	{
		if (!cache.valid)
			rebuild_parent();
		LockRelationOid(cache.parent, RowExclusiveLock);
		if (!cache.valid)
			continue;
		if (cache.part_lxid != MyProc->lxid)
		{
			Relation	parent = relation_open(cache.parent, NoLock);
			Oid			part = find_partition(parent, logged_at);

			relation_close(parent, NoLock);
			if (part != cache.part)
				load_partition(part);
			if (!cache.valid)
				continue;
			cache.part_lxid = MyProc->lxid;
		}
		LockRelationOid(cache.part, RowExclusiveLock);
		for (int i = 0; i < cache.nindexes; i++)
			LockRelationOid(cache.index_oids[i], RowExclusiveLock);
		if (cache.valid)
			return;
	}
}

void
tf_audit_append(Datum *values, bool *nulls, TimestampTz logged_at)
{
	TupleTableSlot *slot;
	Relation	part;
	ResultRelInfo *rri;
	int			natts;

	prepare(logged_at);
	part = table_open(cache.part, NoLock);
	slot = cache.slot;
	natts = slot->tts_tupleDescriptor->natts;
	ExecClearTuple(slot);
	for (int i = 0; i < natts; i++)
	{
		int			from = cache.map ? cache.map->attnums[i] - 1 : i;

		slot->tts_values[i] = from >= 0 ? values[from] : (Datum) 0;
		slot->tts_isnull[i] = from >= 0 ? nulls[from] : true;
	}
	ExecStoreVirtualTuple(slot);
	table_tuple_insert(part, slot, GetCurrentCommandId(true), 0, NULL);

	if (cache.nindexes > 0)
	{
		rri = makeNode(ResultRelInfo);
		rri->ri_RelationDesc = part;
		rri->ri_NumIndices = cache.nindexes;
		rri->ri_IndexRelationDescs = palloc(sizeof(Relation) * cache.nindexes);
		rri->ri_IndexRelationInfo = cache.index_info;
		for (int i = 0; i < cache.nindexes; i++)
			rri->ri_IndexRelationDescs[i] = index_open(cache.index_oids[i], NoLock);
		ExecInsertIndexTuples(rri, slot, cache.estate, false, false, NULL, NIL);
		for (int i = 0; i < cache.nindexes; i++)
			index_close(rri->ri_IndexRelationDescs[i], NoLock);
		pfree(rri->ri_IndexRelationDescs);
		pfree(rri);
		ResetPerTupleExprContext(cache.estate);
	}
	ExecClearTuple(slot);
	table_close(part, NoLock);
}

const TfAuditColumns *
tf_audit_log_columns(void)
{
	if (!cache.valid)
		rebuild_parent();
	return &cache.parent_columns;
}
