/*
 * store.h: the Merkle log's tables through SPI: the state row and the tiles of
 * taskforce.audit_tiles, with a per-call tile cache.  Callers are connected to SPI.
 */
#ifndef TF_AUDIT_STORE_H
#define TF_AUDIT_STORE_H

#include "postgres.h"
#include "utils/hsearch.h"

typedef struct TfLogState
{
	char	   *origin;
	uint64		xid_boundary;
	uint64		tree_size;
} TfLogState;

typedef struct TfTileStore
{
	HTAB	   *cache;
	bool		missing;		/* a node callback found a tile missing or short */
} TfTileStore;

/* creates the state row and key if missing, then reads the state ("FOR UPDATE" / "FOR SHARE" / "") */
extern void tf_store_state(TfLogState *state, const char *lock);
extern void tf_store_begin(TfTileStore *store);
/* appends a leaf at `position` (the current size); full tiles feed the level above */
extern void tf_store_append(TfTileStore *store, uint64 position, const uint8 leaf[32]);
/* writes the tiles appended to */
extern void tf_store_flush(TfTileStore *store);
/* tf_merkle_node_fn over the stored tiles */
extern bool tf_store_node(void *ctx, int height, uint64_t index, uint8_t out[32]);
/* the 32-byte signing seed (palloc'd) */
extern uint8 *tf_store_seed(void);
/* "<origin>+<id>+<key>" of the database's key (palloc'd) */
extern char *tf_store_vkey(const char *origin);

#endif
