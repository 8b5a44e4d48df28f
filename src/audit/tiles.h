/*
 * tiles.h: C2SP tlog-tiles addressing.  A tile (level L, index t) holds up to 256 consecutive
 * hashes of tree height 8*L; any complete subtree node is computed from one tile by hashing up
 * at most 7 levels.  The SPI storage in taskforce.audit_tiles builds on these helpers.
 */
#ifndef TF_AUDIT_TILES_H
#define TF_AUDIT_TILES_H

#include <stdbool.h>
#include <stdint.h>

#define TF_TILE_WIDTH 256

typedef struct TfTileRef
{
	int			level;			/* tile level: node height / 8 */
	uint64_t	index;			/* tile index within the level */
	int			offset;			/* first hash used within the tile */
	int			count;			/* hashes used: 2^(height % 8) */
	int			needed;			/* hashes the tile must hold: offset + count */
} TfTileRef;

/* where the node (height, index) lives */
extern void tf_tiles_locate(int height, uint64_t index, TfTileRef *ref);
/* the node's hash from the tile's hashes (32 bytes each, at least ref->needed of them) */
extern void tf_tiles_node_from_tile(const TfTileRef *ref, const uint8_t *hashes, uint8_t out[32]);

#endif
