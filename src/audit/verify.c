/*
 * verify.c: taskforce.verify_audit().  Recomputes every sealed entry's leaf from its
 * columns (fetched in batches, deformed and hashed in C by src/audit/encode.c), matches the entries against the level-0 tiles transaction by transaction,
 * rebuilds the tree in memory to check the upper tiles and every checkpoint's root, and
 * checks the checkpoints' signatures and a trusted checkpoint.
 */
#include "postgres.h"

#include "access/htup_details.h"
#include "access/table.h"
#include "access/tableam.h"
#include "catalog/namespace.h"
#include "catalog/pg_inherits.h"
#include "executor/tuptable.h"
#include "miscadmin.h"
#include "nodes/makefuncs.h"
#include "utils/rel.h"
#include "utils/snapmgr.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/builtins.h"
#include "utils/tuplestore.h"

#include "audit/encode.h"
#include "checkpoint.h"
#include "merkle.h"
#include "store.h"
#include "tiles.h"

PG_FUNCTION_INFO_V1(taskforce_verify_audit);

typedef struct Tree
{
	uint64		size;
	int			heights;
	uint8	  **level;			/* level[h]: the size >> h complete nodes of height h */
} Tree;

typedef struct Findings
{
	Tuplestorestate *ts;
	TupleDesc	desc;
	int			count;
} Findings;

static void
finding(Findings *f, const char *kind, int64 position, const char *detail)
{
	Datum		v[3];
	bool		n[3] = {false, position < 0, false};

	v[0] = CStringGetTextDatum(kind);
	v[1] = Int64GetDatum(position);
	v[2] = CStringGetTextDatum(detail);
	tuplestore_putvalues(f->ts, f->desc, v, n);
	f->count++;
}

static bool
tree_node(void *ctx, int height, uint64_t index, uint8_t out[32])
{
	Tree	   *t = ctx;

	if (height >= t->heights || index >= (t->size >> height))
		return false;
	memcpy(out, t->level[height] + 32 * index, 32);
	return true;
}

/* a verifier key the checkpoint code can parse: checked against a well-formed dummy note */
static bool
valid_vkey(const char *vkey)
{
	static const char dummy[] = "-\n1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\n\xe2\x80\x94 - AAAAAAA=\n";
	char		origin[8];
	uint64		size;
	uint8		root[32];

	return tf_checkpoint_verify(dummy, vkey, origin, sizeof(origin), &size, root) != -2;
}

static const char *
signature_kind(int status)
{
	return status == 0 ? "wrong_key" : "bad_signature";
}

/* an entry below the seal boundary: its identity and recomputed leaf */
typedef struct VEntry
{
	uint8		leaf[32];
	bool		stored_ok;		/* the stored leaf_hash equals the recomputed leaf */
} VEntry;

/* the sort key of an entry: small, so that the sort moves 16 bytes, not the leaf */
typedef struct VKey
{
	int64		txid;
	int32		seq;
	uint32		idx;			/* into the scanned entries */
} VKey;

static inline int
vkey_cmp(const VKey *x, const VKey *y)
{
	if (x->txid != y->txid)
		return x->txid < y->txid ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq ? 1 : 0;
}

/* sort_vkeys(): PostgreSQL's sort template with the comparison inlined */
#define ST_SORT sort_vkeys
#define ST_ELEMENT_TYPE VKey
#define ST_COMPARE(a, b) vkey_cmp(a, b)
#define ST_SCOPE static
#define ST_DEFINE
#include "lib/sort_template.h"

static int
attno_by_name(TupleDesc desc, const char *name)
{
	for (int i = 0; i < desc->natts; i++)
		if (!TupleDescAttr(desc, i)->attisdropped &&
			strcmp(NameStr(TupleDescAttr(desc, i)->attname), name) == 0)
			return i;
	ereport(ERROR, (errcode(ERRCODE_UNDEFINED_COLUMN),
					errmsg("audit entry has no column \"%s\"", name)));
	return -1;
}

/*
 * Every entry with txid < boundary, its leaf recomputed, sorted by (txid, entry_seq).
 * A direct scan of each partition in physical order, the leaf computed from the
 * deformed row (no SQL per row, no sort of whole rows), then a sort of the small
 * records in memory: the tree itself already takes 64 bytes per leaf.  A fresh
 * snapshot taken after the caller locked the log state, so it sees every sealed entry.
 */
static VEntry *
scan_entries(uint64 boundary, uint64 *n_out, VKey **keys_out)
{
	Oid			parent = RangeVarGetRelid(makeRangeVar("taskforce", "audit_log", -1),
										  AccessShareLock, false);
	List	   *parts = find_all_inheritors(parent, AccessShareLock, NULL);
	Snapshot	snap = RegisterSnapshot(GetTransactionSnapshot());
	/* reset after every row: its keeper block holds a row's work, so no malloc churn */
	MemoryContext row_cxt = AllocSetContextCreate(CurrentMemoryContext, "verify_audit rows",
												  0, 32 * 1024, ALLOCSET_DEFAULT_MAXSIZE);
	uint64		n = 0,
				cap = 1024;
	VEntry	   *out;
	VKey	   *keys;
	uint64		kcap;
	bool		sorted = true;
	ListCell   *lc;

	/* sized from the planner's estimate, so that it rarely grows */
	foreach(lc, parts)
	{
		Relation	rel = table_open(lfirst_oid(lc), NoLock);

		if (rel->rd_rel->reltuples > 0)
			cap += (uint64) rel->rd_rel->reltuples;
		table_close(rel, NoLock);
	}
	out = palloc_extended(sizeof(VEntry) * cap, MCXT_ALLOC_HUGE);
	kcap = cap;
	keys = palloc_extended(sizeof(VKey) * kcap, MCXT_ALLOC_HUGE);

	foreach(lc, parts)
	{
		Relation	rel = table_open(lfirst_oid(lc), NoLock);
		TupleDesc	desc = RelationGetDescr(rel);
		TfAuditColumns cols;
		int			a_txid,
					a_seq,
					a_leaf;
		TupleTableSlot *slot;
		TableScanDesc scan;

		if (rel->rd_rel->relkind != RELKIND_RELATION)
		{
			table_close(rel, NoLock);
			continue;
		}
		/* per partition: an attached table may lay its columns out differently */
		tf_audit_resolve_columns(desc, &cols);
		a_txid = cols.attno[TF_AUDIT_COL_TXID];
		a_seq = cols.attno[TF_AUDIT_COL_ENTRY_SEQ];
		a_leaf = attno_by_name(desc, "leaf_hash");
		slot = table_slot_create(rel, NULL);
		scan = table_beginscan(rel, snap, 0, NULL);
		while (table_scan_getnextslot(scan, ForwardScanDirection, slot))
		{
			MemoryContext old;
			VEntry	   *e;
			bytea	   *stored;

			CHECK_FOR_INTERRUPTS();
			slot_getallattrs(slot);
			if (slot->tts_isnull[a_txid] ||
				DatumGetInt64(slot->tts_values[a_txid]) >= (int64) boundary)
				continue;		/* not sealed yet */
			if (n >= PG_UINT32_MAX)
				ereport(ERROR, (errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
								errmsg("verify_audit handles at most %u entries", PG_UINT32_MAX)));
			if (n == cap)
			{
				cap *= 2;
				out = repalloc_huge(out, sizeof(VEntry) * cap);
			}
			if (n == kcap)
			{
				kcap *= 2;
				keys = repalloc_huge(keys, sizeof(VKey) * kcap);
			}
			keys[n].txid = DatumGetInt64(slot->tts_values[a_txid]);
			keys[n].seq = slot->tts_isnull[a_seq] ? 0 : DatumGetInt32(slot->tts_values[a_seq]);
			keys[n].idx = (uint32) n;
			if (n > 0 && sorted && (keys[n - 1].txid > keys[n].txid ||
									(keys[n - 1].txid == keys[n].txid && keys[n - 1].seq > keys[n].seq)))
				sorted = false;
			e = &out[n++];
			old = MemoryContextSwitchTo(row_cxt);
			tf_audit_leaf_from_datums(&cols, slot->tts_values, slot->tts_isnull, e->leaf);
			stored = slot->tts_isnull[a_leaf] ? NULL : DatumGetByteaPP(slot->tts_values[a_leaf]);
			e->stored_ok = stored != NULL && VARSIZE_ANY_EXHDR(stored) == 32 &&
				memcmp(VARDATA_ANY(stored), e->leaf, 32) == 0;
			MemoryContextSwitchTo(old);
			MemoryContextReset(row_cxt);
		}
		table_endscan(scan);
		ExecDropSingleTupleTableSlot(slot);
		table_close(rel, NoLock);
	}
	UnregisterSnapshot(snap);
	MemoryContextDelete(row_cxt);
	if (!sorted)
		sort_vkeys(keys, n);
	*n_out = n;
	*keys_out = keys;
	return out;
}

Datum
taskforce_verify_audit(PG_FUNCTION_ARGS)
{
	ReturnSetInfo *rsinfo = (ReturnSetInfo *) fcinfo->resultinfo;
	const char *trusted = PG_ARGISNULL(0) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(0));
	const char *given_key = PG_ARGISNULL(1) ? NULL : text_to_cstring(PG_GETARG_TEXT_PP(1));
	Findings	f;
	TfLogState	state;
	Tree		tree;
	uint8	   *leaves;
	const char *vkey;
	Portal		sp;
	VEntry	   *entries;
	VKey	   *ekeys;
	uint64		purged_size = 0;
	uint64		n_entries;
	bool		isnull;
	uint64		expect_first = 0;
	int			checkpoints = 0;
	/* the current entry group (one txid) */
	int64		g_txid = -1;
	uint8	   *g_r = NULL;
	bool	   *g_ok = NULL;
	int32	   *g_seq = NULL;
	int			g_n = 0,
				g_max = 0;
	bool		e_done = false,
				s_done = false;
	uint64		e_i = 0,
				s_i = 0;
	SPITupleTable *stab = NULL;
	int64		last_whole_deleted_start = -1;

	if (given_key != NULL && !valid_vkey(given_key))
		ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
						errmsg("malformed public key"),
						errhint("A verifier key reads <name>+<8 hex digits>+<base64 of 0x01 and the 32-byte key>.")));
	InitMaterializedSRF(fcinfo, 0);
	f.ts = rsinfo->setResult;
	f.desc = rsinfo->setDesc;
	f.count = 0;

	SPI_connect();
	tf_store_state(&state, "FOR SHARE");
	vkey = given_key ? given_key : tf_store_vkey(state.origin);

	/* leaves from the level-0 tiles */
	tree.size = state.tree_size;
	leaves = palloc_extended(Max(tree.size, 1) * 32, MCXT_ALLOC_HUGE | MCXT_ALLOC_ZERO);
	{
		uint64		ntiles = (tree.size + TF_TILE_WIDTH - 1) / TF_TILE_WIDTH;
		Portal		tp = SPI_cursor_open_with_args("tf_tiles0",
												   "SELECT index, hashes FROM taskforce.audit_tiles WHERE level = 0 ORDER BY index",
												   0, NULL, NULL, NULL, false, CURSOR_OPT_NO_SCROLL);
		uint64		seen = 0;

		for (;;)
		{
			SPI_cursor_fetch(tp, true, 1000);
			if (SPI_processed == 0)
				break;
			for (uint64 i = 0; i < SPI_processed; i++)
			{
				int64		idx = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
				bytea	   *b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
				uint64		want = ((uint64) idx + 1 < ntiles) ? TF_TILE_WIDTH : tree.size - (uint64) idx * TF_TILE_WIDTH;

				if ((uint64) idx >= ntiles)
					continue;	/* tiles beyond the tree: a later check reports truncation */
				if ((uint64) VARSIZE_ANY_EXHDR(b) < want * 32)
				{
					finding(&f, "deleted", idx * TF_TILE_WIDTH + VARSIZE_ANY_EXHDR(b) / 32,
							psprintf("level-0 tile %lld is short", (long long) idx));
					memcpy(leaves + 32 * idx * TF_TILE_WIDTH, VARDATA_ANY(b), VARSIZE_ANY_EXHDR(b) & ~31);
				}
				else
					memcpy(leaves + 32 * idx * TF_TILE_WIDTH, VARDATA_ANY(b), want * 32);
				seen++;
			}
		}
		SPI_cursor_close(tp);
		if (seen < ntiles)
			finding(&f, "deleted", -1, psprintf("%llu level-0 tiles missing", (unsigned long long) (ntiles - seen)));
	}

	/* the tree in memory, and the upper tiles against it */
	tree.heights = 1;
	while ((tree.size >> tree.heights) > 0)
		tree.heights++;
	tree.level = palloc(sizeof(uint8 *) * tree.heights);
	tree.level[0] = leaves;
	for (int h = 1; h < tree.heights; h++)
	{
		uint64		n = tree.size >> h;

		tree.level[h] = palloc_extended(n * 32, MCXT_ALLOC_HUGE);
		for (uint64 i = 0; i < n; i++)
			tf_merkle_node_hash(tree.level[h - 1] + 64 * i, tree.level[h - 1] + 64 * i + 32, tree.level[h] + 32 * i);
	}
	SPI_execute("SELECT level, index, hashes FROM taskforce.audit_tiles WHERE level > 0 ORDER BY level, index", false, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		int			lv = DatumGetInt16(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 1, &isnull));
		int64		idx = DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 2, &isnull));
		bytea	   *b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[i], SPI_tuptable->tupdesc, 3, &isnull));
		int			h = 8 * lv;

		for (int j = 0; j < (int) (VARSIZE_ANY_EXHDR(b) / 32); j++)
		{
			uint64		node = (uint64) idx * TF_TILE_WIDTH + j;

			if (h >= tree.heights || node >= (tree.size >> h))
				break;
			if (memcmp(VARDATA_ANY(b) + 32 * j, tree.level[h] + 32 * node, 32) != 0)
			{
				finding(&f, "changed", (int64) (node << h),
						psprintf("tile level %d index %lld does not match the leaves", lv, (long long) idx));
				break;
			}
		}
	}

	/* entries below the boundary against the sealed transactions, in (txid, entry_seq) order */
	/*
	 * The latest purge: positions below purged_size lost their entries (the tree
	 * above verified them through the tiles).  Its record must match a purge entry
	 * of the trail that is sealed above the purged range (so that the scan below
	 * checks that entry against its leaf: a row inserted behind the trail's back
	 * cannot vouch for a purge), and its checkpoint the tree.
	 */
	SPI_execute("SELECT p.purged_size, p.checkpoint_size, p.checkpoint_root, "
				"EXISTS (SELECT FROM taskforce.audit_log AS e "
				"JOIN taskforce.audit_sealed_transactions AS s ON s.txid = e.txid "
				"WHERE e.txid = p.txid AND s.first_position >= p.purged_size "
				"AND e.event_type = 'purge' AND e.action = 'PURGE' "
				"AND e.object = 'taskforce.audit_log' "
				"AND e.new_values ->> 'purged_size' = p.purged_size::text) "
				"FROM taskforce.audit_purges AS p ORDER BY p.purged_size DESC LIMIT 1", true, 0);
	if (SPI_processed == 1)
	{
		HeapTuple	tup = SPI_tuptable->vals[0];
		TupleDesc	desc = SPI_tuptable->tupdesc;
		int64		psize = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
		int64		csize = DatumGetInt64(SPI_getbinval(tup, desc, 2, &isnull));
		bytea	   *croot = DatumGetByteaPP(SPI_getbinval(tup, desc, 3, &isnull));
		bool		has_entry = DatumGetBool(SPI_getbinval(tup, desc, 4, &isnull));
		uint8		root[32];

		if (!has_entry || (uint64) psize > tree.size)
			finding(&f, "changed", -1,
					psprintf("the purge record of positions 0..%lld has no matching sealed purge entry in the trail (seal after purging)",
							 (long long) (psize - 1)));
		if ((uint64) csize <= tree.size &&
			(!tf_merkle_range_hash(tree_node, &tree, 0, (uint64) csize, root) ||
			 VARSIZE_ANY_EXHDR(croot) != 32 || memcmp(VARDATA_ANY(croot), root, 32) != 0))
			finding(&f, "inconsistent_checkpoint", csize,
					psprintf("the checkpoint of tree size %lld recorded by the purge does not match the tree",
							 (long long) csize));
		purged_size = (uint64) Min(psize, (int64) tree.size);
	}
	entries = scan_entries(state.xid_boundary, &n_entries, &ekeys);
	sp = SPI_cursor_open_with_args("tf_vsealed",
								   "SELECT txid, first_position, entry_count FROM taskforce.audit_sealed_transactions ORDER BY txid",
								   0, NULL, NULL, NULL, false, CURSOR_OPT_NO_SCROLL);
	g_max = 64;
	g_r = palloc(32 * g_max);
	g_ok = palloc(sizeof(bool) * g_max);
	g_seq = palloc(sizeof(int32) * g_max);
	for (;;)
	{
		int64		s_txid = -1,
					s_first = 0;
		int32		s_count = 0;

		/* next entry group */
		if (g_n == 0 && !e_done)
		{
			for (;;)
			{
				int64		txid;

				if (e_i >= n_entries)
				{
					e_done = true;
					break;
				}
				txid = ekeys[e_i].txid;
				if (g_n > 0 && txid != g_txid)
					break;
				if (g_n == g_max)
				{
					g_max *= 2;
					g_r = repalloc_huge(g_r, 32 * (Size) g_max);
					g_ok = repalloc_huge(g_ok, sizeof(bool) * (Size) g_max);
					g_seq = repalloc_huge(g_seq, sizeof(int32) * (Size) g_max);
				}
				g_txid = txid;
				g_seq[g_n] = ekeys[e_i].seq;
				memcpy(g_r + 32 * g_n, entries[ekeys[e_i].idx].leaf, 32);
				g_ok[g_n] = entries[ekeys[e_i].idx].stored_ok;
				g_n++;
				e_i++;
			}
		}
		/* next sealed transaction */
		if (!s_done)
		{
			if (stab == NULL || s_i >= stab->numvals)
			{
				if (stab)
					SPI_freetuptable(stab);
				SPI_cursor_fetch(sp, true, 10000);
				stab = SPI_tuptable;
				s_i = 0;
				if (SPI_processed == 0)
					s_done = true;
			}
			if (!s_done)
			{
				HeapTuple	tup = stab->vals[s_i];

				s_txid = DatumGetInt64(SPI_getbinval(tup, stab->tupdesc, 1, &isnull));
				s_first = DatumGetInt64(SPI_getbinval(tup, stab->tupdesc, 2, &isnull));
				s_count = DatumGetInt32(SPI_getbinval(tup, stab->tupdesc, 3, &isnull));
			}
		}
		if (g_n == 0 && s_done)
			break;
		if (g_n > 0 && (s_done || g_txid < s_txid))
		{
			/* entries below the boundary that no seal took */
			finding(&f, "inserted", (int64) (s_done ? tree.size : (uint64) s_first),
					psprintf("entry (%lld, %d) is not in the log", (long long) g_txid, g_seq[0]));
			g_n = 0;
			continue;			/* the sealed transaction is compared next round */
		}
		s_i++;
		if ((uint64) s_first != expect_first || (uint64) s_first + s_count > tree.size)
			finding(&f, "changed", s_first,
					psprintf("sealed transaction %lld claims positions %lld..%lld", (long long) s_txid,
							 (long long) s_first, (long long) (s_first + s_count - 1)));
		expect_first = s_first + s_count;
		if (g_n == 0 || s_txid < g_txid)
		{
			if ((uint64) s_first + s_count <= purged_size)
				continue;		/* purged by purge_audit: its leaves are in the tiles */
			finding(&f, "deleted", s_first,
					psprintf("the %d entries of transaction %lld are gone", s_count, (long long) s_txid));
			if (last_whole_deleted_start < 0)
				last_whole_deleted_start = s_first;
			continue;
		}
		last_whole_deleted_start = -1;
		/* the same transaction: entry by entry */
		if ((uint64) s_first + s_count <= tree.size)
		{
			const uint8 *L = leaves + 32 * s_first;

			if (g_n < s_count)
			{
				/* fewer entries than sealed: the first leaf no entry matches */
				for (int p = 0; p < s_count; p++)
				{
					bool		matched = false;

					for (int k = 0; k < g_n && !matched; k++)
						matched = memcmp(L + 32 * p, g_r + 32 * k, 32) == 0;
					if (!matched)
					{
						finding(&f, "deleted", s_first + p,
								psprintf("entry %d of transaction %lld is gone", p + 1, (long long) s_txid));
						break;
					}
				}
			}
			else if (g_n > s_count)
			{
				/* more entries than sealed: the first entry no leaf matches */
				for (int i = 0; i < g_n; i++)
				{
					bool		matched = false;

					for (int p = 0; p < s_count && !matched; p++)
						matched = memcmp(L + 32 * p, g_r + 32 * i, 32) == 0;
					if (!matched || i >= s_count)
					{
						finding(&f, "inserted", s_first + Min(i, s_count),
								psprintf("entry (%lld, %d) is not in the log", (long long) s_txid, g_seq[i]));
						break;
					}
				}
			}
			else
				for (int i = 0; i < g_n; i++)
				{
					bool		in_log = false;

					if (memcmp(g_r + 32 * i, L + 32 * i, 32) == 0)
					{
						if (!g_ok[i])
							finding(&f, "changed", s_first + i,
									psprintf("entry (%lld, %d): stored leaf_hash differs", (long long) s_txid, g_seq[i]));
						continue;
					}
					for (int p = 0; p < s_count && !in_log; p++)
						in_log = memcmp(g_r + 32 * i, L + 32 * p, 32) == 0;
					finding(&f, in_log ? "reordered" : "changed", s_first + i,
							psprintf(in_log ? "entry (%lld, %d) is at another position" : "entry (%lld, %d) differs from its leaf",
									 (long long) s_txid, g_seq[i]));
				}
		}
		g_n = 0;
	}
	SPI_cursor_close(sp);
	if (expect_first != tree.size)
		finding(&f, "changed", (int64) expect_first, "sealed transactions do not cover the tree");
	/* newest transactions all gone: truncation (reported in addition) */
	if (last_whole_deleted_start >= 0)
		finding(&f, "truncated", last_whole_deleted_start, "the newest sealed entries are gone");

	/* stored checkpoints */
	SPI_execute("SELECT tree_size, root_hash, signed_note FROM taskforce.audit_checkpoints ORDER BY tree_size", false, 0);
	for (uint64 i = 0; i < SPI_processed; i++)
	{
		HeapTuple	tup = SPI_tuptable->vals[i];
		int64		size = DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 1, &isnull));
		bytea	   *rb = DatumGetByteaPP(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
		char	   *note = SPI_getvalue(tup, SPI_tuptable->tupdesc, 3);
		char		origin[256];
		uint64		nsize;
		uint8		nroot[32],
					root[32];
		int			status = tf_checkpoint_verify(note, vkey, origin, sizeof(origin), &nsize, nroot);

		checkpoints++;
		if (status != 1)
		{
			finding(&f, signature_kind(status), size,
					psprintf("checkpoint of tree size %lld: %s", (long long) size,
							 status == 0 ? "no signature by this key" : status == -1 ? "signature does not verify" : "malformed note"));
			continue;
		}
		if ((uint64) size > tree.size)
		{
			finding(&f, "truncated", (int64) tree.size,
					psprintf("checkpoint of tree size %lld, the tree holds %llu", (long long) size, (unsigned long long) tree.size));
			continue;
		}
		if (!tf_merkle_range_hash(tree_node, &tree, 0, (uint64) size, root) ||
			nsize != (uint64) size || memcmp(nroot, root, 32) != 0 ||
			VARSIZE_ANY_EXHDR(rb) != 32 || memcmp(VARDATA_ANY(rb), root, 32) != 0)
			finding(&f, "inconsistent_checkpoint", size,
					psprintf("checkpoint of tree size %lld does not match the tree", (long long) size));
	}

	/* the caller's trusted checkpoint */
	if (trusted != NULL)
	{
		char		origin[256];
		uint64		nsize;
		uint8		nroot[32],
					root[32];
		int			status = tf_checkpoint_verify(trusted, vkey, origin, sizeof(origin), &nsize, nroot);

		if (status == -2)
			ereport(ERROR, (errcode(ERRCODE_INVALID_TEXT_REPRESENTATION),
							errmsg("malformed checkpoint note")));
		if (status != 1)
			finding(&f, signature_kind(status), -1,
					status == 0 ? "trusted checkpoint: no signature by this key" : "trusted checkpoint: signature does not verify");
		else if (nsize > tree.size)
			finding(&f, "truncated", (int64) tree.size,
					psprintf("trusted checkpoint of tree size %llu, the tree holds %llu",
							 (unsigned long long) nsize, (unsigned long long) tree.size));
		else if (!tf_merkle_range_hash(tree_node, &tree, 0, nsize, root) || memcmp(root, nroot, 32) != 0)
			finding(&f, "inconsistent_checkpoint", (int64) nsize,
					"the trusted checkpoint is not a prefix of this log");
		checkpoints++;
	}
	if (f.count == 0)
		finding(&f, "ok", (int64) tree.size,
				psprintf("%llu entries, %d checkpoints verified", (unsigned long long) tree.size, checkpoints));
	SPI_finish();
	return (Datum) 0;
}
