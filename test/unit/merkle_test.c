/* Standalone check of src/audit/merkle.c: prints roots and proofs for python3 to compare. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/audit/merkle.h"

static uint8_t leaves[300][32];

static bool
node(void *ctx, int height, uint64_t index, uint8_t out[32])
{
	uint64_t	start = index << height;
	uint64_t	n = (uint64_t) 1 << height;
	(void) ctx;
	if (height == 0) { memcpy(out, leaves[start], 32); return true; }
	{
		uint8_t l[32], r[32];
		node(ctx, height - 1, index * 2, l);
		node(ctx, height - 1, index * 2 + 1, r);
		(void) n;
		tf_merkle_node_hash(l, r, out);
	}
	return true;
}

static void hex(const uint8_t *h) { for (int i = 0; i < 32; i++) printf("%02x", h[i]); }

int
main(void)
{
	uint8_t proof[64][32], root[32], root2[32];
	int bad = 0;
	for (int i = 0; i < 300; i++) { char d[16]; int l = snprintf(d, sizeof d, "%d", i); tf_merkle_leaf_hash((uint8_t *) d, l, leaves[i]); }
	for (uint64_t n = 1; n <= 70; n++)
	{
		tf_merkle_range_hash(node, NULL, 0, n, root);
		printf("root %llu ", (unsigned long long) n); hex(root); printf("\n");
		for (uint64_t m = 0; m < n; m++)
		{
			int len = tf_merkle_inclusion_proof(node, NULL, m, n, proof);
			printf("incl %llu %llu", (unsigned long long) m, (unsigned long long) n);
			for (int i = 0; i < len; i++) { printf(" "); hex(proof[i]); }
			printf("\n");
			if (!tf_merkle_verify_inclusion(m, n, leaves[m], (const uint8_t (*)[32]) proof, len, root)) bad++;
			if (len > 0) { proof[0][0] ^= 1; if (tf_merkle_verify_inclusion(m, n, leaves[m], (const uint8_t (*)[32]) proof, len, root)) bad++; }
			if (tf_merkle_verify_inclusion(m, n, leaves[(m + 1) % 300], (const uint8_t (*)[32]) proof, len, root)) bad++;
		}
		for (uint64_t m = 1; m <= n; m++)
		{
			int len = tf_merkle_consistency_proof(node, NULL, m, n, proof);
			tf_merkle_range_hash(node, NULL, 0, m, root2);
			printf("cons %llu %llu", (unsigned long long) m, (unsigned long long) n);
			for (int i = 0; i < len; i++) { printf(" "); hex(proof[i]); }
			printf("\n");
			if (!tf_merkle_verify_consistency(m, n, root2, root, (const uint8_t (*)[32]) proof, len)) bad++;
			if (len > 0) { proof[len - 1][5] ^= 1; if (tf_merkle_verify_consistency(m, n, root2, root, (const uint8_t (*)[32]) proof, len)) bad++; }
		}
	}
	printf("verify_failures %d\n", bad);
	return bad != 0;
}
