/*-------------------------------------------------------------------------
 * src/crypto/crypto.c
 *	  HMAC, digests, random bytes, constant-time comparison and public-key
 *	  signature checks from OpenSSL.
 *
 * Every other file goes through these functions, so taskforce touches
 * OpenSSL in exactly one place.  None of them throws: callers such as GUC
 * check hooks must be able to fail softly.
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <openssl/bio.h>
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
#include <openssl/core_names.h>
#include <openssl/params.h>
#endif
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>

#include "crypto/crypto.h"

/* OpenSSL 3.0 renamed these accessors; the old names are macros there. */
#if OPENSSL_VERSION_NUMBER < 0x30000000L
#define EVP_PKEY_get_base_id(pkey) EVP_PKEY_base_id(pkey)
#define EVP_PKEY_get_bits(pkey) EVP_PKEY_bits(pkey)
#define EVP_MD_get_size(md) EVP_MD_size(md)
#endif

#define TF_RSA_MIN_BITS 2048
/* A JWS ES256 signature is r and s, each a 32-byte big-endian integer. */
#define TF_ES256_HALF_LEN 32

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

/* Maps "sha256", "sha384" or "sha512" to its OpenSSL digest, or NULL. */
static const EVP_MD *
digest_by_name(const char *name)
{
	if (strcmp(name, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(name, "sha384") == 0)
		return EVP_sha384();
	if (strcmp(name, "sha512") == 0)
		return EVP_sha512();
	return NULL;
}

/*
 * Computes the HMAC of data under key with the named digest ("sha256",
 * "sha384" or "sha512"); stores its length in *mac_len.
 */
bool
tf_hmac(const char *digest, const uint8 *key, size_t key_len,
		const uint8 *data, size_t data_len,
		uint8 mac[TF_MAX_MAC_LEN], size_t *mac_len)
{
	static const uint8 empty_key[1] = {0};
	const EVP_MD *md = digest_by_name(digest);
	unsigned int len = 0;

	*mac_len = 0;
	if (md == NULL || EVP_MD_get_size(md) > TF_MAX_MAC_LEN || key_len > INT_MAX)
		return false;
	/* A NULL key means "keep the previous key" to some OpenSSL calls. */
	if (key == NULL)
		key = empty_key;
	if (HMAC(md, key, (int) key_len, data, data_len, mac, &len) == NULL)
	{
		ERR_clear_error();
		return false;
	}
	*mac_len = len;
	return true;
}

/* Computes HMAC-SHA256 of data under key; returns false if OpenSSL fails. */
bool
tf_hmac_sha256(const uint8 *key, size_t key_len,
			   const uint8 *data, size_t data_len,
			   uint8 mac[TF_SHA256_LEN])
{
	uint8		full[TF_MAX_MAC_LEN];
	size_t		mac_len;

	if (!tf_hmac("sha256", key, key_len, data, data_len, full, &mac_len) ||
		mac_len != TF_SHA256_LEN)
		return false;
	memcpy(mac, full, TF_SHA256_LEN);
	return true;
}

/*
 * Makes a keyed HMAC context for digest ("sha256", "sha384" or "sha512"),
 * so that each later MAC under the key skips looking up the algorithm and
 * hashing the key: tf_hmac_keyed resets the context to its keyed state.
 * Returns NULL if OpenSSL fails.  The context is OpenSSL's memory, not
 * palloc'd: free it with tf_hmac_key_free.
 */
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
TfHmacKey *
tf_hmac_key_new(const char *digest, const uint8 *key, size_t key_len)
{
	static EVP_MAC *hmac = NULL;
	EVP_MAC_CTX *ctx;
	OSSL_PARAM params[2];

	if (digest_by_name(digest) == NULL || key == NULL || key_len == 0)
		return NULL;
	if (hmac == NULL)
		hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	ctx = hmac != NULL ? EVP_MAC_CTX_new(hmac) : NULL;
	if (ctx == NULL)
	{
		ERR_clear_error();
		return NULL;
	}
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *) digest, 0);
	params[1] = OSSL_PARAM_construct_end();
	if (EVP_MAC_init(ctx, key, key_len, params) != 1)
	{
		EVP_MAC_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return (TfHmacKey *) ctx;
}

/* Computes the HMAC of data under a key made by tf_hmac_key_new. */
bool
tf_hmac_keyed(TfHmacKey *hmac, const uint8 *data, size_t data_len,
			  uint8 mac[TF_MAX_MAC_LEN], size_t *mac_len)
{
	EVP_MAC_CTX *ctx = (EVP_MAC_CTX *) hmac;

	*mac_len = 0;
	/* A NULL key re-initialises the context with the key it already has. */
	if (EVP_MAC_init(ctx, NULL, 0, NULL) != 1 ||
		EVP_MAC_update(ctx, data, data_len) != 1 ||
		EVP_MAC_final(ctx, mac, mac_len, TF_MAX_MAC_LEN) != 1)
	{
		ERR_clear_error();
		*mac_len = 0;
		return false;
	}
	return true;
}

/* Frees a context made by tf_hmac_key_new; NULL is allowed. */
void
tf_hmac_key_free(TfHmacKey *hmac)
{
	EVP_MAC_CTX_free((EVP_MAC_CTX *) hmac);
}
#else
TfHmacKey *
tf_hmac_key_new(const char *digest, const uint8 *key, size_t key_len)
{
	const EVP_MD *md = digest_by_name(digest);
	HMAC_CTX   *ctx;

	if (md == NULL || key == NULL || key_len == 0 || key_len > INT_MAX)
		return NULL;
	ctx = HMAC_CTX_new();
	if (ctx == NULL || HMAC_Init_ex(ctx, key, (int) key_len, md, NULL) != 1)
	{
		HMAC_CTX_free(ctx);
		ERR_clear_error();
		return NULL;
	}
	return (TfHmacKey *) ctx;
}

bool
tf_hmac_keyed(TfHmacKey *hmac, const uint8 *data, size_t data_len,
			  uint8 mac[TF_MAX_MAC_LEN], size_t *mac_len)
{
	HMAC_CTX   *ctx = (HMAC_CTX *) hmac;
	unsigned int len = 0;

	*mac_len = 0;
	if (HMAC_Init_ex(ctx, NULL, 0, NULL, NULL) != 1 ||
		HMAC_Update(ctx, data, data_len) != 1 ||
		HMAC_Final(ctx, mac, &len) != 1)
	{
		ERR_clear_error();
		return false;
	}
	*mac_len = len;
	return true;
}

void
tf_hmac_key_free(TfHmacKey *hmac)
{
	HMAC_CTX_free((HMAC_CTX *) hmac);
}
#endif

/* Computes the SHA-256 digest of data. */
bool
tf_sha256(const uint8 *data, size_t len, uint8 out[TF_SHA256_LEN])
{
	unsigned int out_len = 0;

	if (EVP_Digest(data, len, out, &out_len, EVP_sha256(), NULL) != 1)
	{
		ERR_clear_error();
		return false;
	}
	return out_len == TF_SHA256_LEN;
}

/* Refuses to prompt for a passphrase: public keys are never encrypted. */
static int
no_passphrase(char *buf, int size, int rwflag, void *userdata)
{
	return 0;
}

/* Reads a PEM "PUBLIC KEY" (SubjectPublicKeyInfo); NULL if pem holds none. */
static EVP_PKEY *
read_public_key(const char *pem)
{
	BIO		   *bio;
	EVP_PKEY   *pkey;

	bio = BIO_new_mem_buf(pem, -1);
	if (bio == NULL)
		return NULL;
	pkey = PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL);
	BIO_free(bio);
	return pkey;
}

/* Returns true if pkey is an EC key on the named curve P-256. */
static bool
is_p256_key(EVP_PKEY *pkey)
{
#if OPENSSL_VERSION_NUMBER >= 0x30000000L
	char		name[80];
	size_t		name_len = 0;

	if (EVP_PKEY_get_group_name(pkey, name, sizeof(name), &name_len) != 1)
		return false;
	return OBJ_sn2nid(name) == NID_X9_62_prime256v1 ||
		EC_curve_nist2nid(name) == NID_X9_62_prime256v1;
#else
	const EC_KEY *ec = EVP_PKEY_get0_EC_KEY(pkey);
	const EC_GROUP *group = ec != NULL ? EC_KEY_get0_group(ec) : NULL;

	return group != NULL &&
		EC_GROUP_get_curve_name(group) == NID_X9_62_prime256v1;
#endif
}

/* Returns why pkey cannot verify alg, or NULL if it can. */
static const char *
key_problem(const char *alg, EVP_PKEY *pkey)
{
	int			type = EVP_PKEY_get_base_id(pkey);

	if (strcmp(alg, "RS256") == 0)
	{
		if (type != EVP_PKEY_RSA)
			return "an RS256 key must be an RSA public key";
		if (EVP_PKEY_get_bits(pkey) < TF_RSA_MIN_BITS)
			return "an RSA public key must have at least 2048 bits";
		return NULL;
	}
	if (strcmp(alg, "ES256") == 0)
	{
		if (type != EVP_PKEY_EC)
			return "an ES256 key must be an EC public key";
		if (!is_p256_key(pkey))
			return "an ES256 key must be on curve P-256";
		return NULL;
	}
	return "only RS256 and ES256 use public keys";
}

/*
 * Checks that pem is a public key fit for alg ("RS256" or "ES256").  On
 * failure sets *problem to a static lower-case message; otherwise to NULL.
 */
bool
tf_check_public_key(const char *alg, const char *pem, const char **problem)
{
	EVP_PKEY   *pkey = read_public_key(pem);

	if (pkey == NULL)
	{
		ERR_clear_error();
		*problem = "public key is not a PEM-encoded SubjectPublicKeyInfo (BEGIN PUBLIC KEY)";
		return false;
	}
	*problem = key_problem(alg, pkey);
	EVP_PKEY_free(pkey);
	return *problem == NULL;
}

/*
 * Converts a JWS ES256 signature (r || s) to the DER ECDSA-Sig-Value that
 * OpenSSL verifies.  Returns the length of *der (to be OPENSSL_free'd), or
 * -1.
 */
static int
es256_signature_to_der(const uint8 *sig, size_t sig_len, uint8 **der)
{
	ECDSA_SIG  *ecsig;
	BIGNUM	   *r;
	BIGNUM	   *s;
	int			der_len = -1;

	*der = NULL;
	if (sig_len != 2 * TF_ES256_HALF_LEN)
		return -1;
	ecsig = ECDSA_SIG_new();
	r = BN_bin2bn(sig, TF_ES256_HALF_LEN, NULL);
	s = BN_bin2bn(sig + TF_ES256_HALF_LEN, TF_ES256_HALF_LEN, NULL);
	if (ecsig != NULL && r != NULL && s != NULL &&
		ECDSA_SIG_set0(ecsig, r, s) == 1)
	{
		r = s = NULL;			/* ecsig owns them now */
		der_len = i2d_ECDSA_SIG(ecsig, der);
	}
	BN_free(r);
	BN_free(s);
	ECDSA_SIG_free(ecsig);
	return der_len > 0 ? der_len : -1;
}

/* Verifies sig over data with SHA-256 under pkey (PKCS #1 v1.5 for RSA). */
static bool
digest_verify(EVP_PKEY *pkey, const uint8 *data, size_t data_len,
			  const uint8 *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	bool		ok = false;

	if (ctx != NULL &&
		EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, pkey) == 1 &&
		(EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA ||
		 EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) > 0))
		ok = EVP_DigestVerify(ctx, sig, sig_len, data, data_len) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/*
 * Verifies a JWS signature: alg is "RS256" (RSASSA-PKCS1-v1_5 SHA-256) or
 * "ES256" (ECDSA P-256 SHA-256, sig being r || s), pem_public_key a PEM
 * public key that must suit alg.  Returns false for any failure.
 */
bool
tf_verify_signature(const char *alg, const char *pem_public_key,
					const uint8 *data, size_t data_len,
					const uint8 *sig, size_t sig_len)
{
	EVP_PKEY   *pkey = read_public_key(pem_public_key);
	uint8	   *der = NULL;
	int			der_len;
	bool		ok = false;

	if (pkey != NULL && key_problem(alg, pkey) == NULL)
	{
		if (strcmp(alg, "ES256") == 0)
		{
			der_len = es256_signature_to_der(sig, sig_len, &der);
			if (der_len > 0)
				ok = digest_verify(pkey, data, data_len, der, der_len);
		}
		else
			ok = digest_verify(pkey, data, data_len, sig, sig_len);
	}
	OPENSSL_free(der);
	EVP_PKEY_free(pkey);
	ERR_clear_error();
	return ok;
}
