/*
 * merkle.c: RFC 9162 section 2.1 (leaf 0x00 / node 0x01 prefixes, largest-power-of-two split).
 */
#include <string.h>

#include <openssl/evp.h>

#include "merkle.h"

static void
sha256_parts(uint8_t prefix, const uint8_t *a, size_t alen, const uint8_t *b, size_t blen,
			 uint8_t out[TF_MERKLE_HASH_LEN])
{
	/* one context and one fetched digest per process: a tree hashes millions of nodes */
	static EVP_MD_CTX *md = NULL;
	static EVP_MD *sha = NULL;
	unsigned int outlen = 0;

	if (md == NULL)
	{
		sha = EVP_MD_fetch(NULL, "SHA256", NULL);
		md = EVP_MD_CTX_new();
	}
	/* allocation failure of a digest context is not recoverable here: abort loudly */
	if (md == NULL || sha == NULL || EVP_DigestInit_ex(md, sha, NULL) != 1 ||
		EVP_DigestUpdate(md, &prefix, 1) != 1 ||
		(alen && EVP_DigestUpdate(md, a, alen) != 1) ||
		(blen && EVP_DigestUpdate(md, b, blen) != 1) ||
		EVP_DigestFinal_ex(md, out, &outlen) != 1)
	{
		memset(out, 0, TF_MERKLE_HASH_LEN);
		return;
	}
}

void
tf_merkle_leaf_hash(const uint8_t *data, size_t len, uint8_t out[TF_MERKLE_HASH_LEN])
{
	sha256_parts(0x00, data, len, NULL, 0, out);
}

void
tf_merkle_node_hash(const uint8_t left[TF_MERKLE_HASH_LEN], const uint8_t right[TF_MERKLE_HASH_LEN],
					uint8_t out[TF_MERKLE_HASH_LEN])
{
	sha256_parts(0x01, left, TF_MERKLE_HASH_LEN, right, TF_MERKLE_HASH_LEN, out);
}

void
tf_merkle_empty_root(uint8_t out[TF_MERKLE_HASH_LEN])
{
	unsigned int outlen = 0;

	EVP_Digest("", 0, out, &outlen, EVP_sha256(), NULL);
}

/* largest power of two strictly less than n (n >= 2) */
static uint64_t
split_point(uint64_t n)
{
	uint64_t	k = 1;

	while ((k << 1) < n)
		k <<= 1;
	return k;
}

bool
tf_merkle_range_hash(tf_merkle_node_fn node, void *ctx, uint64_t start, uint64_t end,
					 uint8_t out[TF_MERKLE_HASH_LEN])
{
	uint64_t	n = end - start;
	uint8_t		left[TF_MERKLE_HASH_LEN],
				right[TF_MERKLE_HASH_LEN];
	uint64_t	k;

	if (end < start)
		return false;
	if (n == 0)
	{
		tf_merkle_empty_root(out);
		return true;
	}
	/* a complete aligned subtree is stored: fetch it instead of recursing */
	if ((n & (n - 1)) == 0 && (start & (n - 1)) == 0)
	{
		int			height = 0;

		while (((uint64_t) 1 << height) < n)
			height++;
		return node(ctx, height, start >> height, out);
	}
	k = split_point(n);
	if (!tf_merkle_range_hash(node, ctx, start, start + k, left) ||
		!tf_merkle_range_hash(node, ctx, start + k, end, right))
		return false;
	tf_merkle_node_hash(left, right, out);
	return true;
}

static int
path(tf_merkle_node_fn node, void *ctx, uint64_t m, uint64_t start, uint64_t end,
	 uint8_t proof[][TF_MERKLE_HASH_LEN], int len)
{
	uint64_t	n = end - start;
	uint64_t	k;

	if (n <= 1)
		return len;
	k = split_point(n);
	if (m < k)
	{
		len = path(node, ctx, m, start, start + k, proof, len);
		if (len < 0 || !tf_merkle_range_hash(node, ctx, start + k, end, proof[len]))
			return -1;
	}
	else
	{
		len = path(node, ctx, m - k, start + k, end, proof, len);
		if (len < 0 || !tf_merkle_range_hash(node, ctx, start, start + k, proof[len]))
			return -1;
	}
	return len + 1;
}

int
tf_merkle_inclusion_proof(tf_merkle_node_fn node, void *ctx, uint64_t m, uint64_t n,
						  uint8_t proof[][TF_MERKLE_HASH_LEN])
{
	if (m >= n)
		return -1;
	return path(node, ctx, m, 0, n, proof, 0);
}

static int
subproof(tf_merkle_node_fn node, void *ctx, uint64_t m, uint64_t start, uint64_t end, bool b,
		 uint8_t proof[][TF_MERKLE_HASH_LEN], int len)
{
	uint64_t	n = end - start;
	uint64_t	k;

	if (m == n)
	{
		if (b)
			return len;
		return tf_merkle_range_hash(node, ctx, start, end, proof[len]) ? len + 1 : -1;
	}
	k = split_point(n);
	if (m <= k)
	{
		len = subproof(node, ctx, m, start, start + k, b, proof, len);
		if (len < 0 || !tf_merkle_range_hash(node, ctx, start + k, end, proof[len]))
			return -1;
	}
	else
	{
		len = subproof(node, ctx, m - k, start + k, end, false, proof, len);
		if (len < 0 || !tf_merkle_range_hash(node, ctx, start, start + k, proof[len]))
			return -1;
	}
	return len + 1;
}

int
tf_merkle_consistency_proof(tf_merkle_node_fn node, void *ctx, uint64_t m, uint64_t n,
							uint8_t proof[][TF_MERKLE_HASH_LEN])
{
	if (m == 0 || m > n)
		return -1;
	return subproof(node, ctx, m, 0, n, true, proof, 0);
}

bool
tf_merkle_verify_inclusion(uint64_t m, uint64_t n, const uint8_t leaf[TF_MERKLE_HASH_LEN],
						   const uint8_t proof[][TF_MERKLE_HASH_LEN], int proof_len,
						   const uint8_t root[TF_MERKLE_HASH_LEN])
{
	uint64_t	fn = m,
				sn = n - 1;
	uint8_t		r[TF_MERKLE_HASH_LEN];
	int			i;

	if (m >= n)
		return false;
	memcpy(r, leaf, TF_MERKLE_HASH_LEN);
	for (i = 0; i < proof_len; i++)
	{
		if (sn == 0)
			return false;
		if ((fn & 1) || fn == sn)
		{
			tf_merkle_node_hash(proof[i], r, r);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1))
				{
					fn >>= 1;
					sn >>= 1;
				}
		}
		else
			tf_merkle_node_hash(r, proof[i], r);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(r, root, TF_MERKLE_HASH_LEN) == 0;
}

bool
tf_merkle_verify_consistency(uint64_t m, uint64_t n,
							 const uint8_t old_root[TF_MERKLE_HASH_LEN],
							 const uint8_t new_root[TF_MERKLE_HASH_LEN],
							 const uint8_t proof[][TF_MERKLE_HASH_LEN], int proof_len)
{
	uint64_t	fn,
				sn;
	uint8_t		fr[TF_MERKLE_HASH_LEN],
				sr[TF_MERKLE_HASH_LEN];
	int			i = 0;

	if (m == 0 || m > n)
		return false;
	if (m == n)
		return proof_len == 0 && memcmp(old_root, new_root, TF_MERKLE_HASH_LEN) == 0;
	if (proof_len == 0)
		return false;
	fn = m - 1;
	sn = n - 1;
	/* if first is an exact power of two, the old root itself starts the path */
	if ((m & (m - 1)) == 0)
	{
		memcpy(fr, old_root, TF_MERKLE_HASH_LEN);
		memcpy(sr, old_root, TF_MERKLE_HASH_LEN);
	}
	else
	{
		memcpy(fr, proof[0], TF_MERKLE_HASH_LEN);
		memcpy(sr, proof[0], TF_MERKLE_HASH_LEN);
		i = 1;
	}
	while (fn & 1)
	{
		fn >>= 1;
		sn >>= 1;
	}
	for (; i < proof_len; i++)
	{
		if (sn == 0)
			return false;
		if ((fn & 1) || fn == sn)
		{
			tf_merkle_node_hash(proof[i], fr, fr);
			tf_merkle_node_hash(proof[i], sr, sr);
			if (!(fn & 1))
				while (fn != 0 && !(fn & 1))
				{
					fn >>= 1;
					sn >>= 1;
				}
		}
		else
			tf_merkle_node_hash(sr, proof[i], sr);
		fn >>= 1;
		sn >>= 1;
	}
	return sn == 0 && memcmp(fr, old_root, TF_MERKLE_HASH_LEN) == 0 &&
		memcmp(sr, new_root, TF_MERKLE_HASH_LEN) == 0;
}
