/* Standalone check of src/audit/tiles.c: every complete node of a 70000-leaf tree computed
 * from C2SP tiles equals the node computed level by level; proofs through tiles verify. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/audit/merkle.h"
#include "../../src/audit/tiles.h"

#define N ((uint64_t) 70000)
static uint8_t (*lvl[17])[32];		/* lvl[h][i]: node of height h, computed directly */
static uint8_t *tile_level[3];		/* concatenated hashes of tree height 0, 8, 16 */
static uint64_t tile_count[3];

static bool
tile_node(void *ctx, int height, uint64_t index, uint8_t out[32])
{
	TfTileRef	ref;
	(void) ctx;
	tf_tiles_locate(height, index, &ref);
	if (ref.level > 2 || ref.index * 256 + ref.needed > tile_count[ref.level])
		return false;
	tf_tiles_node_from_tile(&ref, tile_level[ref.level] + 32 * ref.index * 256, out);
	return true;
}

int
main(void)
{
	uint64_t	bad = 0, checked = 0;
	uint8_t		out[32], root[32], proof[64][32];

	for (int h = 0; h <= 16; h++)
	{
		uint64_t	cnt = N >> h;
		lvl[h] = malloc(32 * (cnt ? cnt : 1));
		for (uint64_t i = 0; i < cnt; i++)
		{
			if (h == 0) { char d[16]; int l = snprintf(d, sizeof d, "%llu", (unsigned long long) i); tf_merkle_leaf_hash((uint8_t *) d, l, lvl[0][i]); }
			else tf_merkle_node_hash(lvl[h - 1][2 * i], lvl[h - 1][2 * i + 1], lvl[h][i]);
		}
	}
	for (int L = 0; L < 3; L++) { tile_count[L] = N >> (8 * L); tile_level[L] = (uint8_t *) lvl[8 * L]; }
	for (int h = 0; h <= 16; h++)
		for (uint64_t i = 0; i < (N >> h); i++)
		{
			checked++;
			if (!tile_node(NULL, h, i, out) || memcmp(out, lvl[h][i], 32) != 0) bad++;
		}
	for (uint64_t n = N - 3; n <= N; n++)
	{
		tf_merkle_range_hash(tile_node, NULL, 0, n, root);
		for (uint64_t m = 0; m < n; m += 997)
		{
			int len = tf_merkle_inclusion_proof(tile_node, NULL, m, n, proof);
			checked++;
			if (len < 0 || !tf_merkle_verify_inclusion(m, n, lvl[0][m], (const uint8_t (*)[32]) proof, len, root)) bad++;
		}
	}
	printf("tiles: %llu nodes and proofs checked, %llu bad\n", (unsigned long long) checked, (unsigned long long) bad);
	return bad != 0;
}
