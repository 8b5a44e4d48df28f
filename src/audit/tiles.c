/*
 * tiles.c: C2SP tlog-tiles addressing and node computation within a tile.
 */
#include <string.h>

#include "merkle.h"
#include "tiles.h"

void
tf_tiles_locate(int height, uint64_t index, TfTileRef *ref)
{
	int			r = height % 8;
	uint64_t	first = index << r;		/* first hash of height 8*level covered */

	ref->level = height / 8;
	ref->index = first / TF_TILE_WIDTH;
	ref->offset = (int) (first % TF_TILE_WIDTH);
	ref->count = 1 << r;
	ref->needed = ref->offset + ref->count;
}

void
tf_tiles_node_from_tile(const TfTileRef *ref, const uint8_t *hashes, uint8_t out[32])
{
	uint8_t		work[TF_TILE_WIDTH / 2][32];
	int			n = ref->count;

	if (n == 1)
	{
		memcpy(out, hashes + 32 * ref->offset, 32);
		return;
	}
	/* first pass reads the tile, later passes fold the work array in place */
	for (int i = 0; i < n / 2; i++)
		tf_merkle_node_hash(hashes + 32 * (ref->offset + 2 * i), hashes + 32 * (ref->offset + 2 * i + 1), work[i]);
	for (n /= 2; n > 1; n /= 2)
		for (int i = 0; i < n / 2; i++)
			tf_merkle_node_hash(work[2 * i], work[2 * i + 1], work[i]);
	memcpy(out, work[0], 32);
}
