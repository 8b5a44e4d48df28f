/*-------------------------------------------------------------------------
 * src/crypto/crypto.c
 *	  HMAC, random bytes and constant-time comparison from OpenSSL.
 *
 * Every other file goes through these functions, so taskforce touches
 * OpenSSL in exactly one place.  None of them throws: callers such as GUC
 * check hooks must be able to fail softly.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "crypto/crypto.h"

/* Computes HMAC-SHA256 of data under key; returns false if OpenSSL fails. */
bool
tf_hmac_sha256(const uint8 *key, size_t key_len,
			   const uint8 *data, size_t data_len,
			   uint8 mac[TF_SHA256_LEN])
{
	unsigned int mac_len = 0;

	if (HMAC(EVP_sha256(), key, (int) key_len, data, data_len,
			 mac, &mac_len) == NULL)
		return false;
	return mac_len == TF_SHA256_LEN;
}

/* Fills buf with cryptographically strong random bytes. */
bool
tf_random_bytes(uint8 *buf, size_t len)
{
	return RAND_bytes(buf, (int) len) == 1;
}

/* Compares two equal-length buffers in time independent of their content. */
bool
tf_equal_constant_time(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0;
}
