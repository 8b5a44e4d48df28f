/*
 * merkle.h: RFC 9162 section 2.1 Merkle tree hashing, proofs and their verification.
 *
 * Pure computation (OpenSSL SHA-256 only): the tree's stored hashes come through a callback
 * so the same code serves tiles (src/audit/tiles.c) and in-memory tests.
 */
#ifndef TF_AUDIT_MERKLE_H
#define TF_AUDIT_MERKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_MERKLE_HASH_LEN 32
/* a proof for a tree of at most 2^63 leaves has at most 63 (inclusion) / 64 (consistency) hashes */
#define TF_MERKLE_MAX_PROOF 64

/*
 * Hash of the complete subtree of height `height` (2^height leaves) whose leftmost leaf is
 * index << height. Returns false if it is not available (caller reports the error).
 */
typedef bool (*tf_merkle_node_fn) (void *ctx, int height, uint64_t index, uint8_t out[TF_MERKLE_HASH_LEN]);

extern void tf_merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[TF_MERKLE_HASH_LEN]);
extern void tf_merkle_node_hash(const uint8_t left[TF_MERKLE_HASH_LEN], const uint8_t right[TF_MERKLE_HASH_LEN],
								uint8_t out[TF_MERKLE_HASH_LEN]);
extern void tf_merkle_empty_root(uint8_t out[TF_MERKLE_HASH_LEN]);

/* MTH(D[start:end]) computed from complete subtrees; false if a node was unavailable */
extern bool tf_merkle_range_hash(tf_merkle_node_fn node, void *ctx, uint64_t start, uint64_t end,
								 uint8_t out[TF_MERKLE_HASH_LEN]);

/* PATH(m, D[n]) in RFC order (leaf level first); returns the number of hashes or -1 */
extern int	tf_merkle_inclusion_proof(tf_merkle_node_fn node, void *ctx, uint64_t m, uint64_t n,
									  uint8_t proof[][TF_MERKLE_HASH_LEN]);
/* PROOF(m, D[n]), 0 < m <= n; returns the number of hashes or -1 */
extern int	tf_merkle_consistency_proof(tf_merkle_node_fn node, void *ctx, uint64_t m, uint64_t n,
										uint8_t proof[][TF_MERKLE_HASH_LEN]);

/* RFC 9162 2.1.3.2 / 2.1.4.2 verification algorithms */
extern bool tf_merkle_verify_inclusion(uint64_t m, uint64_t n, const uint8_t leaf[TF_MERKLE_HASH_LEN],
									   const uint8_t proof[][TF_MERKLE_HASH_LEN], int proof_len,
									   const uint8_t root[TF_MERKLE_HASH_LEN]);
extern bool tf_merkle_verify_consistency(uint64_t m, uint64_t n,
										 const uint8_t old_root[TF_MERKLE_HASH_LEN],
										 const uint8_t new_root[TF_MERKLE_HASH_LEN],
										 const uint8_t proof[][TF_MERKLE_HASH_LEN], int proof_len);

#endif
