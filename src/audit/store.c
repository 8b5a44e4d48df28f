/*
 * store.c: SPI access to taskforce.audit_log_state, audit_tiles and audit_signing_key.
 */
#include "postgres.h"

#include "catalog/pg_type.h"
#include "executor/spi.h"
#include "utils/builtins.h"

#include "checkpoint.h"
#include "merkle.h"
#include "store.h"
#include "tiles.h"

typedef struct TileKey
{
	int64		level;
	int64		index;
} TileKey;

typedef struct TileEntry
{
	TileKey		key;
	int			count;			/* hashes held */
	bool		dirty;
	uint8		hashes[TF_TILE_WIDTH * 32];
} TileEntry;

static SPIPlanPtr load_plan = NULL;
static SPIPlanPtr save_plan = NULL;

static void
spi_check(int rc, int expected, const char *what)
{
	if (rc != expected)
		elog(ERROR, "taskforce audit log: %s failed: %s", what, SPI_result_code_string(rc));
}

void
tf_store_state(TfLogState *state, const char *lock)
{
	char		sql[160];
	bool		isnull;
	HeapTuple	tup;

	spi_check(SPI_execute("SELECT taskforce._audit_log_init()", false, 0), SPI_OK_SELECT, "init");
	snprintf(sql, sizeof(sql), "SELECT origin, xid_boundary, tree_size FROM taskforce.audit_log_state %s", lock);
	spi_check(SPI_execute(sql, false, 0), *lock ? SPI_OK_SELECT : SPI_OK_SELECT, "state");
	if (SPI_processed != 1)
		elog(ERROR, "taskforce audit log: no state row");
	tup = SPI_tuptable->vals[0];
	state->origin = SPI_getvalue(tup, SPI_tuptable->tupdesc, 1);
	state->xid_boundary = (uint64) DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 2, &isnull));
	state->tree_size = (uint64) DatumGetInt64(SPI_getbinval(tup, SPI_tuptable->tupdesc, 3, &isnull));
}

void
tf_store_begin(TfTileStore *store)
{
	HASHCTL		ctl;

	memset(&ctl, 0, sizeof(ctl));
	ctl.keysize = sizeof(TileKey);
	ctl.entrysize = sizeof(TileEntry);
	ctl.hcxt = CurrentMemoryContext;
	store->cache = hash_create("taskforce audit tiles", 64, &ctl, HASH_ELEM | HASH_BLOBS | HASH_CONTEXT);
	store->missing = false;
	/* plans live in the SPI procedure context of this call only */
	load_plan = NULL;
	save_plan = NULL;
}

/* the cached tile, loaded from the table unless `fresh` (a tile started by an append) */
static TileEntry *
get_tile(TfTileStore *store, int level, uint64 index, bool fresh)
{
	TileKey		key;
	TileEntry  *t;
	bool		found;

	memset(&key, 0, sizeof(key));
	key.level = level;
	key.index = (int64) index;
	t = hash_search(store->cache, &key, HASH_ENTER, &found);
	if (found)
		return t;
	t->count = 0;
	t->dirty = false;
	if (!fresh)
	{
		Oid			types[2] = {INT2OID, INT8OID};
		Datum		values[2];
		bool		isnull;

		if (load_plan == NULL)
			load_plan = SPI_prepare("SELECT hashes FROM taskforce.audit_tiles WHERE level = $1 AND index = $2",
									2, types);
		values[0] = Int16GetDatum((int16) level);
		values[1] = Int64GetDatum((int64) index);
		spi_check(SPI_execute_plan(load_plan, values, NULL, false, 1), SPI_OK_SELECT, "tile read");
		if (SPI_processed == 1)
		{
			bytea	   *b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
			int			len = VARSIZE_ANY_EXHDR(b);

			if (len % 32 == 0 && len <= TF_TILE_WIDTH * 32)
			{
				memcpy(t->hashes, VARDATA_ANY(b), len);
				t->count = len / 32;
			}
		}
	}
	return t;
}

static void
append_at(TfTileStore *store, int level, uint64 n, const uint8 hash[32])
{
	int			off = (int) (n % TF_TILE_WIDTH);
	TileEntry  *t = get_tile(store, level, n / TF_TILE_WIDTH, off == 0);

	memcpy(t->hashes + 32 * off, hash, 32);
	t->count = off + 1;
	t->dirty = true;
	if (t->count == TF_TILE_WIDTH)
	{
		TfTileRef	ref = {level, n / TF_TILE_WIDTH, 0, TF_TILE_WIDTH, TF_TILE_WIDTH};
		uint8		root[32];

		tf_tiles_node_from_tile(&ref, t->hashes, root);
		append_at(store, level + 1, n / TF_TILE_WIDTH, root);
	}
}

void
tf_store_append(TfTileStore *store, uint64 position, const uint8 leaf[32])
{
	append_at(store, 0, position, leaf);
}

void
tf_store_flush(TfTileStore *store)
{
	HASH_SEQ_STATUS seq;
	TileEntry  *t;

	if (save_plan == NULL)
	{
		Oid			types[3] = {INT2OID, INT8OID, BYTEAOID};

		save_plan = SPI_prepare("INSERT INTO taskforce.audit_tiles (level, index, hashes) VALUES ($1, $2, $3) "
								"ON CONFLICT (level, index) DO UPDATE SET hashes = EXCLUDED.hashes", 3, types);
	}
	hash_seq_init(&seq, store->cache);
	while ((t = hash_seq_search(&seq)) != NULL)
	{
		Datum		values[3];
		bytea	   *b;

		if (!t->dirty)
			continue;
		b = palloc(VARHDRSZ + 32 * t->count);
		SET_VARSIZE(b, VARHDRSZ + 32 * t->count);
		memcpy(VARDATA(b), t->hashes, 32 * t->count);
		values[0] = Int16GetDatum((int16) t->key.level);
		values[1] = Int64GetDatum(t->key.index);
		values[2] = PointerGetDatum(b);
		spi_check(SPI_execute_plan(save_plan, values, NULL, false, 0), SPI_OK_INSERT, "tile write");
		t->dirty = false;
		pfree(b);
	}
}

bool
tf_store_node(void *ctx, int height, uint64_t index, uint8_t out[32])
{
	TfTileStore *store = ctx;
	TfTileRef	ref;
	TileEntry  *t;

	tf_tiles_locate(height, index, &ref);
	t = get_tile(store, ref.level, ref.index, false);
	if (t->count < ref.needed)
	{
		store->missing = true;
		return false;
	}
	tf_tiles_node_from_tile(&ref, t->hashes, out);
	return true;
}

uint8 *
tf_store_seed(void)
{
	bool		isnull;
	bytea	   *b;
	uint8	   *seed;

	spi_check(SPI_execute("SELECT seed FROM taskforce.audit_signing_key", false, 1), SPI_OK_SELECT, "key read");
	if (SPI_processed != 1)
		elog(ERROR, "taskforce audit log: no signing key");
	b = DatumGetByteaPP(SPI_getbinval(SPI_tuptable->vals[0], SPI_tuptable->tupdesc, 1, &isnull));
	if (VARSIZE_ANY_EXHDR(b) != TF_ED25519_KEY_LEN)
		elog(ERROR, "taskforce audit log: signing key is not 32 bytes");
	seed = palloc(TF_ED25519_KEY_LEN);
	memcpy(seed, VARDATA_ANY(b), TF_ED25519_KEY_LEN);
	return seed;
}

char *
tf_store_vkey(const char *origin)
{
	uint8	   *seed = tf_store_seed();
	uint8		pub[TF_ED25519_KEY_LEN];
	char	   *v,
			   *out;

	if (!tf_checkpoint_public_key(seed, pub))
		elog(ERROR, "taskforce audit log: Ed25519 public key derivation failed");
	explicit_bzero(seed, TF_ED25519_KEY_LEN);
	v = tf_checkpoint_vkey(origin, pub);
	if (v == NULL)
		elog(ERROR, "out of memory");
	out = pstrdup(v);
	free(v);
	return out;
}
