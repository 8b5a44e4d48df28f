/*
 * checkpoint.c: C2SP tlog-checkpoint + signed-note (Ed25519, signature type 0x01).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "checkpoint.h"

#define EM_DASH "\xe2\x80\x94"

bool
tf_checkpoint_public_key(const uint8_t seed[TF_ED25519_KEY_LEN], uint8_t pub[TF_ED25519_KEY_LEN])
{
	EVP_PKEY   *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, TF_ED25519_KEY_LEN);
	size_t		len = TF_ED25519_KEY_LEN;
	bool		ok;

	if (k == NULL)
		return false;
	ok = EVP_PKEY_get_raw_public_key(k, pub, &len) == 1 && len == TF_ED25519_KEY_LEN;
	EVP_PKEY_free(k);
	return ok;
}

void
tf_checkpoint_key_id(const char *name, const uint8_t pub[TF_ED25519_KEY_LEN], uint8_t id[4])
{
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	uint8_t		h[32];
	unsigned int hl = 0;
	static const uint8_t sep[2] = {0x0A, 0x01};

	memset(h, 0, sizeof h);
	if (md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1)
	{
		EVP_DigestUpdate(md, name, strlen(name));
		EVP_DigestUpdate(md, sep, 2);
		EVP_DigestUpdate(md, pub, TF_ED25519_KEY_LEN);
		EVP_DigestFinal_ex(md, h, &hl);
	}
	EVP_MD_CTX_free(md);
	memcpy(id, h, 4);
}

static char *
b64(const uint8_t *data, int len)
{
	char	   *out = malloc(4 * ((len + 2) / 3) + 1);

	if (out)
		EVP_EncodeBlock((unsigned char *) out, data, len);
	return out;
}

/* strict standard base64 decode; returns decoded length or -1 */
static int
unb64(const char *s, size_t slen, uint8_t *out, int cap)
{
	uint8_t		buf[256];
	int			n,
				pad = 0;

	if (slen == 0 || slen % 4 != 0 || slen > 340 || (int) (slen / 4 * 3) > cap + 2)
		return -1;
	for (size_t i = 0; i < slen; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
			  (s[i] >= '0' && s[i] <= '9') || s[i] == '+' || s[i] == '/' ||
			  (s[i] == '=' && i >= slen - 2)))
			return -1;
	n = EVP_DecodeBlock(buf, (const unsigned char *) s, (int) slen);
	if (n < 0)
		return -1;
	if (s[slen - 1] == '=')
		pad++;
	if (s[slen - 2] == '=')
		pad++;
	n -= pad;
	if (n > cap)
		return -1;
	memcpy(out, buf, n);
	return n;
}

char *
tf_checkpoint_vkey(const char *name, const uint8_t pub[TF_ED25519_KEY_LEN])
{
	uint8_t		id[4],
				typed[1 + TF_ED25519_KEY_LEN];
	char	   *k,
			   *out;
	size_t		len;

	tf_checkpoint_key_id(name, pub, id);
	typed[0] = 0x01;
	memcpy(typed + 1, pub, TF_ED25519_KEY_LEN);
	k = b64(typed, sizeof typed);
	if (k == NULL)
		return NULL;
	len = strlen(name) + strlen(k) + 12;
	out = malloc(len);
	if (out)
		snprintf(out, len, "%s+%02x%02x%02x%02x+%s", name, id[0], id[1], id[2], id[3], k);
	free(k);
	return out;
}

static bool
ed25519_sign(const uint8_t seed[32], const char *msg, size_t len, uint8_t sig[64])
{
	EVP_PKEY   *k = EVP_PKEY_new_raw_private_key(EVP_PKEY_ED25519, NULL, seed, 32);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	size_t		sl = 64;
	bool		ok = k && md &&
		EVP_DigestSignInit(md, NULL, NULL, NULL, k) == 1 &&
		EVP_DigestSign(md, sig, &sl, (const unsigned char *) msg, len) == 1 && sl == 64;

	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return ok;
}

static bool
ed25519_verify(const uint8_t pub[32], const char *msg, size_t len, const uint8_t sig[64])
{
	EVP_PKEY   *k = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pub, 32);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	bool		ok = k && md &&
		EVP_DigestVerifyInit(md, NULL, NULL, NULL, k) == 1 &&
		EVP_DigestVerify(md, sig, 64, (const unsigned char *) msg, len) == 1;

	EVP_MD_CTX_free(md);
	EVP_PKEY_free(k);
	return ok;
}

char *
tf_checkpoint_sign(const char *origin, uint64_t size, const uint8_t root[32],
				   const uint8_t seed[TF_ED25519_KEY_LEN])
{
	uint8_t		pub[32],
				idsig[4 + 64];
	char	   *rootb64,
			   *body,
			   *sigb64,
			   *out = NULL;
	size_t		blen;

	if (!tf_checkpoint_public_key(seed, pub) || (rootb64 = b64(root, 32)) == NULL)
		return NULL;
	blen = strlen(origin) + strlen(rootb64) + 32;
	body = malloc(blen);
	if (body == NULL)
	{
		free(rootb64);
		return NULL;
	}
	snprintf(body, blen, "%s\n%llu\n%s\n", origin, (unsigned long long) size, rootb64);
	free(rootb64);
	tf_checkpoint_key_id(origin, pub, idsig);
	if (ed25519_sign(seed, body, strlen(body), idsig + 4) && (sigb64 = b64(idsig, sizeof idsig)) != NULL)
	{
		size_t		olen = strlen(body) + strlen(origin) + strlen(sigb64) + 16;

		out = malloc(olen);
		if (out)
			snprintf(out, olen, "%s\n" EM_DASH " %s %s\n", body, origin, sigb64);
		free(sigb64);
	}
	free(body);
	return out;
}

int
tf_checkpoint_verify(const char *note, const char *vkey,
					 char *origin, size_t origin_len, uint64_t *size, uint8_t root[32])
{
	const char *p1,
			   *p2,
			   *sep,
			   *line;
	char		name[512],
				idhex[9];
	uint8_t		typed[40],
				id[4],
				pub[32];
	size_t		namelen,
				bodylen;
	int			result = 0;

	/* vkey: name+hexid+base64(0x01||pub); a key name never contains '+', base64 may */
	p1 = strchr(vkey, '+');
	if (p1 == NULL || p1 == vkey || (size_t) (p1 - vkey) >= sizeof name || strlen(p1) < 10 || p1[9] != '+')
		return -2;
	p2 = p1 + 9;
	namelen = p1 - vkey;
	memcpy(name, vkey, namelen);
	name[namelen] = '\0';
	memcpy(idhex, p1 + 1, 8);
	idhex[8] = '\0';
	if (unb64(p2 + 1, strlen(p2 + 1), typed, sizeof typed) != 33 || typed[0] != 0x01)
		return -2;
	memcpy(pub, typed + 1, 32);
	tf_checkpoint_key_id(name, pub, id);
	{
		char		want[9];

		snprintf(want, sizeof want, "%02x%02x%02x%02x", id[0], id[1], id[2], id[3]);
		if (strcmp(want, idhex) != 0)
			return -2;
	}

	/* note: body ends at the first "\n\n"; body = three lines (extension lines allowed after) */
	sep = strstr(note, "\n\n");
	if (sep == NULL)
		return -2;
	bodylen = sep - note + 1;
	{
		const char *nl1 = strchr(note, '\n'),
				   *nl2 = nl1 ? strchr(nl1 + 1, '\n') : NULL,
				   *nl3 = nl2 ? strchr(nl2 + 1, '\n') : NULL;
		char	   *end;
		unsigned long long sz;

		if (!nl3 || nl3 > sep || (size_t) (nl1 - note) >= origin_len || nl1 == note)
			return -2;
		memcpy(origin, note, nl1 - note);
		origin[nl1 - note] = '\0';
		if (nl1[1] < '0' || nl1[1] > '9' || (nl1[1] == '0' && nl2 - nl1 > 2))
			return -2;
		sz = strtoull(nl1 + 1, &end, 10);
		if (end != nl2)
			return -2;
		*size = sz;
		if (unb64(nl2 + 1, nl3 - nl2 - 1, root, 32) != 32)
			return -2;
	}
	/* signature lines: "— name base64\n" */
	line = sep + 2;
	if (*line == '\0')
		return -2;
	while (*line)
	{
		const char *nl = strchr(line, '\n'),
				   *sp;
		uint8_t		idsig[68 + 8];
		int			n;

		if (nl == NULL || strncmp(line, EM_DASH " ", 4) != 0)
			return -2;
		line += 4;
		sp = memchr(line, ' ', nl - line);
		if (sp == NULL)
			return -2;
		n = unb64(sp + 1, nl - sp - 1, idsig, sizeof idsig);
		if (n < 5)
			return -2;
		if ((size_t) (sp - line) == namelen && memcmp(line, name, namelen) == 0 &&
			memcmp(idsig, id, 4) == 0)
		{
			if (n == 68 && ed25519_verify(pub, note, bodylen, idsig + 4))
				return 1;
			result = -1;
		}
		line = nl + 1;
	}
	return result;
}
