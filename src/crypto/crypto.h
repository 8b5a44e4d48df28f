/*-------------------------------------------------------------------------
 * src/crypto/crypto.h
 *	  The small interface through which taskforce uses OpenSSL's libcrypto.
 *-------------------------------------------------------------------------
 */
#ifndef TASKFORCE_CRYPTO_H
#define TASKFORCE_CRYPTO_H

#include "postgres.h"

#define TF_SHA256_LEN 32
/* Largest MAC tf_hmac produces (HMAC-SHA512). */
#define TF_MAX_MAC_LEN 64

extern bool tf_hmac_sha256(const uint8 *key, size_t key_len,
						   const uint8 *data, size_t data_len,
						   uint8 mac[TF_SHA256_LEN]);
extern bool tf_random_bytes(uint8 *buf, size_t len);
extern bool tf_equal_constant_time(const void *a, const void *b, size_t len);
extern bool tf_hmac(const char *digest, const uint8 *key, size_t key_len,
					const uint8 *data, size_t data_len,
					uint8 mac[TF_MAX_MAC_LEN], size_t *mac_len);
/* A keyed HMAC, made once per key and reused: see tf_hmac_key_new. */
typedef struct TfHmacKey TfHmacKey;

extern TfHmacKey *tf_hmac_key_new(const char *digest, const uint8 *key, size_t key_len);
extern bool tf_hmac_keyed(TfHmacKey *hmac, const uint8 *data, size_t data_len,
						  uint8 mac[TF_MAX_MAC_LEN], size_t *mac_len);
extern void tf_hmac_key_free(TfHmacKey *hmac);
extern bool tf_sha256(const uint8 *data, size_t len, uint8 out[TF_SHA256_LEN]);
extern bool tf_check_public_key(const char *alg, const char *pem,
								const char **problem);
extern bool tf_verify_signature(const char *alg, const char *pem_public_key,
								const uint8 *data, size_t data_len,
								const uint8 *sig, size_t sig_len);

#endif							/* TASKFORCE_CRYPTO_H */
