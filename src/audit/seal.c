/*
 * seal.c: taskforce.seal_audit(), the checkpoint key and the proof functions.
 *
 * A seal integrates exactly the entries with boundary <= txid < xmin of a fresh snapshot
 * (every such transaction has finished; the committed ones are visible), in (txid,
 * entry_seq) order, so no entry can later sort before a sealed one.  Sealers queue on the
 * state row's lock; writers never touch that row.  seal_audit() and the background sealer
 * (sealer.c) run the same tf_audit_seal().
 */
#include "postgres.h"

#include "access/transam.h"
#include "access/xact.h"
#include "catalog/pg_type.h"
#include "common/base64.h"
#include "executor/spi.h"
#include "fmgr.h"
#include "funcapi.h"
#include "utils/array.h"
#include "utils/builtins.h"

#include "checkpoint.h"
#include "merkle.h"
#include "seal.h"
#include "store.h"

PG_FUNCTION_INFO_V1(taskforce_seal_audit);
PG_FUNCTION_INFO_V1(taskforce_audit_public_key);
PG_FUNCTION_INFO_V1(taskforce_audit_inclusion_proof);
PG_FUNCTION_INFO_V1(taskforce_audit_consistency_proof);

#define SEAL_FETCH 10000

/* an int8, int4 or timestamptz array of n values */
static Datum
datum_array(Datum *elems, int n, Oid type)
{
	if (type == INT4OID)
		return PointerGetDatum(construct_array(elems, n, type, sizeof(int32), true, TYPALIGN_INT));
	return PointerGetDatum(construct_array(elems, n, type, sizeof(int64), FLOAT8PASSBYVAL, TYPALIGN_DOUBLE));
}

/*
 * Records the sealed transactions, one row each, in a single INSERT over
 * arrays: a load of one-row transactions seals thousands at a time, and a
 * statement per transaction would dominate the seal.
 */
static void
record_transactions(int n, const int64 *ids, const int64 *first, const int32 *count,
					const Datum *logged, int64 seal_id)
{
	Oid			types[5] = {INT8ARRAYOID, INT8ARRAYOID, INT4ARRAYOID, TIMESTAMPTZARRAYOID, INT8OID};
	Datum		values[5];
	Datum	   *e_ids;
	Datum	   *e_first;
	Datum	   *e_count;

	if (n == 0)
		return;
	e_ids = palloc(sizeof(Datum) * n);
	e_first = palloc(sizeof(Datum) * n);
	e_count = palloc(sizeof(Datum) * n);
	for (int i = 0; i < n; i++)
	{
		e_ids[i] = Int64GetDatum(ids[i]);
		e_first[i] = Int64GetDatum(first[i]);
		e_count[i] = Int32GetDatum(count[i]);
	}
	values[0] = datum_array(e_ids, n, INT8OID);
	values[1] = datum_array(e_first, n, INT8OID);
	values[2] = datum_array(e_count, n, INT4OID);
	values[3] = datum_array((Datum *) logged, n, TIMESTAMPTZOID);
	values[4] = Int64GetDatum(seal_id);
	if (SPI_execute_with_args("INSERT INTO taskforce.audit_sealed_transactions "
							  "(txid, first_position, entry_count, logged_at, seal_id) "
							  "SELECT t.txid, t.first_position, t.entry_count, t.logged_at, $5 "
							  "FROM ROWS FROM (pg_catalog.unnest($1), pg_catalog.unnest($2), pg_catalog.unnest($3), pg_catalog.unnest($4)) "
							  "AS t(txid, first_position, entry_count, logged_at)",
							  5, types, values, NULL, false, 0) != SPI_OK_INSERT ||
		SPI_processed != (uint64) n)
		elog(ERROR, "taskforce audit log: recording the sealed transactions failed");
}

/*
 * Seals: appends the entries of the transactions finished since the last
 * seal (at most max_entries, in whole transactions; 0 = all) and signs a
 * checkpoint if it added any.  The code of seal_audit() and of the
 * background sealer (sealer.c).  Runs in the caller's transaction, which
 * must be at read committed; connects to SPI itself.
 */
void
tf_audit_seal(int64 max_entries, TfSealResult *result)
{
	TfLogState	state;
	TfTileStore store;
	uint64		xmin;
	uint64		size;
	uint64		new_boundary;
	int64		sealed = 0;
	FullTransactionId own;
	Portal		portal;
	Oid			types[2] = {INT8OID, INT8OID};
	Datum		bounds[2];
	int64		cur_txid = -1,
				cur_first = 0;
	int32		cur_count = 0;
	Datum		cur_logged = 0;
	bool		stop = false;
	bool		isnull;

	if (IsolationUsesXactSnapshot())
		ereport(ERROR, (errcode(ERRCODE_INVALID_TRANSACTION_STATE),
						errmsg("seal_audit must run at read committed isolation"),
						errdetail("A transaction snapshot would miss entries committed after it was taken.")));

	SPI_connect();
	tf_store_state(&state, "FOR UPDATE");
	size = state.tree_size;

	/* the fresh snapshot's xmin, taken after the lock: older transactions have all finished */
	if (SPI_execute("SELECT pg_catalog.pg_snapshot_xmin(pg_catalog.pg_current_snapshot())::text::bigint",
					false, 0) != SPI_OK_SELECT)
		elog(ERROR, "taskforce audit log: snapshot xmin failed");
	xmin = (uint64) DatumGetInt64(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	own = GetTopFullTransactionIdIfAny();
	if (FullTransactionIdIsValid(own) && U64FromFullTransactionId(own) < xmin)
		xmin = U64FromFullTransactionId(own);	/* never seal our own, unfinished, transaction */
	new_boundary = Max(xmin, state.xid_boundary);

	tf_store_begin(&store);
	bounds[0] = Int64GetDatum((int64) state.xid_boundary);
	bounds[1] = Int64GetDatum((int64) xmin);
	portal = SPI_cursor_open_with_args("tf_seal",
									   "SELECT txid, entry_seq, leaf_hash, logged_at FROM taskforce.audit_log "
									   "WHERE txid >= $1 AND txid < $2 ORDER BY txid, entry_seq",
									   2, types, bounds, NULL, false, CURSOR_OPT_NO_SCROLL);
	/* the rows of the transactions are recorded once the seal's id (its tree size) is known */
	{
		int64	   *tx_ids = palloc(sizeof(int64) * 1024);
		int64	   *tx_first = palloc(sizeof(int64) * 1024);
		int32	   *tx_count = palloc(sizeof(int32) * 1024);
		Datum	   *tx_logged = palloc(sizeof(Datum) * 1024);
		int			ntx = 0,
					maxtx = 1024;

		while (!stop)
		{
			SPITupleTable *batch;
			uint64		nrows;

			SPI_cursor_fetch(portal, true, SEAL_FETCH);
			/* appending may read a tile through SPI: keep the batch apart */
			batch = SPI_tuptable;
			nrows = SPI_processed;
			if (nrows == 0)
				break;
			for (uint64 i = 0; i < nrows && !stop; i++)
			{
				HeapTuple	tup = batch->vals[i];
				TupleDesc	desc = batch->tupdesc;
				int64		txid = DatumGetInt64(SPI_getbinval(tup, desc, 1, &isnull));
				bytea	   *leaf = DatumGetByteaPP(SPI_getbinval(tup, desc, 3, &isnull));

				if (txid != cur_txid)
				{
					if (cur_count > 0)
					{
						if (ntx == maxtx)
						{
							maxtx *= 2;
							tx_ids = repalloc_huge(tx_ids, sizeof(int64) * maxtx);
							tx_first = repalloc_huge(tx_first, sizeof(int64) * maxtx);
							tx_count = repalloc_huge(tx_count, sizeof(int32) * maxtx);
							tx_logged = repalloc_huge(tx_logged, sizeof(Datum) * maxtx);
						}
						tx_ids[ntx] = cur_txid;
						tx_first[ntx] = cur_first;
						tx_count[ntx] = cur_count;
						tx_logged[ntx] = cur_logged;
						ntx++;
					}
					/* max_entries stops between transactions: the next seal starts at this one */
					if (max_entries > 0 && sealed >= max_entries)
					{
						new_boundary = (uint64) txid;
						cur_count = 0;
						stop = true;
						break;
					}
					cur_txid = txid;
					cur_first = (int64) size;
					cur_count = 0;
					cur_logged = SPI_getbinval(tup, desc, 4, &isnull);
				}
				if (VARSIZE_ANY_EXHDR(leaf) != 32)
					ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
									errmsg("audit entry (%lld, %d) has a leaf hash that is not 32 bytes",
										   (long long) txid,
										   DatumGetInt32(SPI_getbinval(tup, desc, 2, &isnull)))));
				tf_store_append(&store, size, (const uint8 *) VARDATA_ANY(leaf));
				size++;
				sealed++;
				cur_count++;
			}
			SPI_freetuptable(batch);
		}
		if (cur_count > 0 && !stop)
		{
			if (ntx == maxtx)
			{
				maxtx += 1;
				tx_ids = repalloc_huge(tx_ids, sizeof(int64) * maxtx);
				tx_first = repalloc_huge(tx_first, sizeof(int64) * maxtx);
				tx_count = repalloc_huge(tx_count, sizeof(int32) * maxtx);
				tx_logged = repalloc_huge(tx_logged, sizeof(Datum) * maxtx);
			}
			tx_ids[ntx] = cur_txid;
			tx_first[ntx] = cur_first;
			tx_count[ntx] = cur_count;
			tx_logged[ntx] = cur_logged;
			ntx++;
		}
		SPI_cursor_close(portal);
		record_transactions(ntx, tx_ids, tx_first, tx_count, tx_logged, (int64) size);
	}

	if (sealed > 0)
	{
		uint8		root[32];
		uint8	   *seed;
		char	   *note;
		Oid			ctypes[4] = {INT8OID, BYTEAOID, TEXTOID, INT8OID};
		Datum		cvalues[4];
		bytea	   *rootb = palloc(VARHDRSZ + 32);

		tf_store_flush(&store);
		if (!tf_merkle_range_hash(tf_store_node, &store, 0, size, root))
			ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED),
							errmsg("the audit log's tiles are incomplete")));
		seed = tf_store_seed();
		note = tf_checkpoint_sign(state.origin, size, root, seed);
		explicit_bzero(seed, 32);
		if (note == NULL)
			elog(ERROR, "taskforce audit log: signing the checkpoint failed");
		SET_VARSIZE(rootb, VARHDRSZ + 32);
		memcpy(VARDATA(rootb), root, 32);
		cvalues[0] = Int64GetDatum((int64) size);
		cvalues[1] = PointerGetDatum(rootb);
		cvalues[2] = CStringGetTextDatum(note);
		cvalues[3] = Int64GetDatum((int64) new_boundary);
		free(note);
		if (SPI_execute_with_args("INSERT INTO taskforce.audit_checkpoints "
								  "(tree_size, root_hash, signed_note, xid_boundary) VALUES ($1, $2, $3, $4)",
								  4, ctypes, cvalues, NULL, false, 0) != SPI_OK_INSERT)
			elog(ERROR, "taskforce audit log: storing the checkpoint failed");
	}
	if (sealed > 0 || new_boundary != state.xid_boundary)
	{
		Oid			stypes[2] = {INT8OID, INT8OID};
		Datum		svalues[2];

		svalues[0] = Int64GetDatum((int64) new_boundary);
		svalues[1] = Int64GetDatum((int64) size);
		if (SPI_execute_with_args("UPDATE taskforce.audit_log_state SET xid_boundary = $1, tree_size = $2",
								  2, stypes, svalues, NULL, false, 0) != SPI_OK_UPDATE)
			elog(ERROR, "taskforce audit log: updating the state failed");
	}
	SPI_finish();

	result->tree_size = size;
	result->sealed = sealed;
	result->boundary = new_boundary;
}

/* taskforce.seal_audit(max_entries): seals (tf_audit_seal) and returns the tree size and the entries sealed. */
Datum
taskforce_seal_audit(PG_FUNCTION_ARGS)
{
	TfSealResult sealed;
	TupleDesc	rdesc;
	Datum		result[2];
	bool		rnull[2] = {false, false};

	if (!PG_ARGISNULL(0) && PG_GETARG_INT64(0) <= 0)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("max_entries must be positive")));
	if (get_call_result_type(fcinfo, NULL, &rdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "seal_audit: return type must be a row type");
	rdesc = BlessTupleDesc(rdesc);

	tf_audit_seal(PG_ARGISNULL(0) ? 0 : PG_GETARG_INT64(0), &sealed);

	result[0] = Int64GetDatum((int64) sealed.tree_size);
	result[1] = Int64GetDatum(sealed.sealed);
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(rdesc, result, rnull)));
}

Datum
taskforce_audit_public_key(PG_FUNCTION_ARGS)
{
	TfLogState	state;
	char	   *vkey;
	text	   *out;

	SPI_connect();
	tf_store_state(&state, "");
	vkey = tf_store_vkey(state.origin);
	out = (text *) SPI_palloc(VARHDRSZ + strlen(vkey));
	SET_VARSIZE(out, VARHDRSZ + strlen(vkey));
	memcpy(VARDATA(out), vkey, strlen(vkey));
	SPI_finish();
	PG_RETURN_TEXT_P(out);
}

/* the proof as text[] of base64 hashes, allocated outside SPI */
static ArrayType *
proof_array(uint8 proof[][32], int n, MemoryContext outer)
{
	MemoryContext old = MemoryContextSwitchTo(outer);
	Datum	   *elems = palloc(sizeof(Datum) * Max(n, 1));
	ArrayType  *arr;

	for (int i = 0; i < n; i++)
	{
		char		buf[64];
		int			len = pg_b64_encode((const char *) proof[i], 32, buf, sizeof(buf));

		elems[i] = PointerGetDatum(cstring_to_text_with_len(buf, len));
	}
	arr = construct_array(elems, n, TEXTOID, -1, false, TYPALIGN_INT);
	MemoryContextSwitchTo(old);
	return arr;
}

static int64
arg_size(FunctionCallInfo fcinfo, int argno, const char *name)
{
	if (PG_ARGISNULL(argno))
		ereport(ERROR, (errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
						errmsg("%s must not be null", name)));
	return PG_GETARG_INT64(argno);
}

Datum
taskforce_audit_inclusion_proof(PG_FUNCTION_ARGS)
{
	int64		position = arg_size(fcinfo, 0, "position");
	MemoryContext outer = CurrentMemoryContext;
	TfLogState	state;
	TfTileStore store;
	uint8		proof[TF_MERKLE_MAX_PROOF][32];
	int64		n;
	int			len;
	ArrayType  *arr;

	SPI_connect();
	tf_store_state(&state, "");
	n = PG_ARGISNULL(1) ? (int64) state.tree_size : PG_GETARG_INT64(1);
	if (n < 1 || (uint64) n > state.tree_size)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("tree_size %lld is out of range", (long long) n),
						errdetail("The audit log holds %llu entries.", (unsigned long long) state.tree_size)));
	if (position < 0 || position >= n)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("position %lld is out of range for tree size %lld", (long long) position, (long long) n)));
	tf_store_begin(&store);
	len = tf_merkle_inclusion_proof(tf_store_node, &store, (uint64) position, (uint64) n, proof);
	if (len < 0)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("the audit log's tiles are incomplete")));
	arr = proof_array(proof, len, outer);
	SPI_finish();
	PG_RETURN_ARRAYTYPE_P(arr);
}

Datum
taskforce_audit_consistency_proof(PG_FUNCTION_ARGS)
{
	int64		m = arg_size(fcinfo, 0, "old_size");
	MemoryContext outer = CurrentMemoryContext;
	TfLogState	state;
	TfTileStore store;
	uint8		proof[TF_MERKLE_MAX_PROOF][32];
	int64		n;
	int			len;
	ArrayType  *arr;

	SPI_connect();
	tf_store_state(&state, "");
	n = PG_ARGISNULL(1) ? (int64) state.tree_size : PG_GETARG_INT64(1);
	if (n < 1 || (uint64) n > state.tree_size)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("new_size %lld is out of range", (long long) n),
						errdetail("The audit log holds %llu entries.", (unsigned long long) state.tree_size)));
	if (m < 1 || m > n)
		ereport(ERROR, (errcode(ERRCODE_INVALID_PARAMETER_VALUE),
						errmsg("old_size %lld is out of range for new size %lld", (long long) m, (long long) n)));
	tf_store_begin(&store);
	len = tf_merkle_consistency_proof(tf_store_node, &store, (uint64) m, (uint64) n, proof);
	if (len < 0)
		ereport(ERROR, (errcode(ERRCODE_DATA_CORRUPTED), errmsg("the audit log's tiles are incomplete")));
	arr = proof_array(proof, len, outer);
	SPI_finish();
	PG_RETURN_ARRAYTYPE_P(arr);
}
