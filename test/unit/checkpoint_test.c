/* Standalone check of src/audit/checkpoint.c: prints a vkey and a signed note for python3. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "../../src/audit/checkpoint.h"

int
main(void)
{
	uint8_t seed[32], seed2[32], pub[32], pub2[32], root[32], r2[32];
	char origin[256], *vkey, *vkey2, *note, *bad;
	uint64_t size = 0;
	int fails = 0;
	for (int i = 0; i < 32; i++) { seed[i] = (uint8_t) i; seed2[i] = (uint8_t) (100 + i); root[i] = (uint8_t) (200 + i); }
	tf_checkpoint_public_key(seed, pub);
	tf_checkpoint_public_key(seed2, pub2);
	vkey = tf_checkpoint_vkey("taskforce.local/1/db", pub);
	vkey2 = tf_checkpoint_vkey("taskforce.local/1/db", pub2);
	note = tf_checkpoint_sign("taskforce.local/1/db", 12345, root, seed);
	printf("%s\n%s", vkey, note);
	if (tf_checkpoint_verify(note, vkey, origin, sizeof origin, &size, r2) != 1 || size != 12345 ||
		memcmp(r2, root, 32) != 0 || strcmp(origin, "taskforce.local/1/db") != 0) fails++;
	if (tf_checkpoint_verify(note, vkey2, origin, sizeof origin, &size, r2) != 0) fails++;
	bad = strdup(note); bad[strlen("taskforce.local/1/db\n1")] = '9';
	if (tf_checkpoint_verify(bad, vkey, origin, sizeof origin, &size, r2) != -1) fails++;
	if (tf_checkpoint_verify("garbage", vkey, origin, sizeof origin, &size, r2) != -2) fails++;
	if (tf_checkpoint_verify(note, "x+00000000+AAAA", origin, sizeof origin, &size, r2) != -2) fails++;
	fprintf(stderr, "checkpoint_failures %d\n", fails);
	return fails != 0;
}
