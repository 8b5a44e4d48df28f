/*
 * checkpoint.h: C2SP tlog-checkpoint bodies signed per C2SP signed-note with Ed25519
 * (OpenSSL EVP_DigestSign on the raw 32-byte seed).  Pure C; the SQL layer wraps errors.
 */
#ifndef TF_AUDIT_CHECKPOINT_H
#define TF_AUDIT_CHECKPOINT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TF_ED25519_KEY_LEN 32
#define TF_ED25519_SIG_LEN 64

/* public key from the seed; false on an OpenSSL failure */
extern bool tf_checkpoint_public_key(const uint8_t seed[TF_ED25519_KEY_LEN], uint8_t pub[TF_ED25519_KEY_LEN]);
/* key id = first 4 bytes of SHA-256(name || 0x0A || 0x01 || pub) */
extern void tf_checkpoint_key_id(const char *name, const uint8_t pub[TF_ED25519_KEY_LEN], uint8_t id[4]);
/* "<name>+<hex id>+<base64(0x01 || pub)>" into a malloc'd string (NULL on failure) */
extern char *tf_checkpoint_vkey(const char *name, const uint8_t pub[TF_ED25519_KEY_LEN]);
/* "<origin>\n<size>\n<base64 root>\n" + "\n— <origin> <base64(id || sig)>\n", malloc'd */
extern char *tf_checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[32],
								const uint8_t seed[TF_ED25519_KEY_LEN]);
/*
 * Verify a note against a vkey: returns 1 = a signature line of that key verifies,
 * 0 = no line for that key (wrong key), -1 = a line for that key does not verify,
 * -2 = malformed note or vkey.  On 1, the parsed body fields are returned.
 */
extern int	tf_checkpoint_verify(const char *note, const char *vkey,
								 char *origin, size_t origin_len, uint64_t *size, uint8_t root[32]);

#endif
