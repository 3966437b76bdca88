/* SPDX-License-Identifier: MIT */
/*
 * The demo's producer: stores COUNT messages in slots of segment NAME and
 * prints each slot's reference on standard output, one per line, for the
 * consumer to read.  The slots stay allocated after the producer exits.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shmslab.h"

int main(int argc, char **argv)
{
	struct shmslab *slab;
	char msg[128];
	int count, err;

	if (argc != 3 || (count = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: demo-producer NAME COUNT\n");
		return 2;
	}
	err = shmslab_open(argv[1], &slab);
	if (err) {
		fprintf(stderr, "demo-producer: %s: %s\n", argv[1], shmslab_strerror(err));
		return 1;
	}
	for (int i = 1; i <= count && err == 0; i++) {
		shmslab_ref ref;
		int len = snprintf(msg, sizeof(msg), "message %d of %d from pid %ld", i, count,
				   (long)getpid());

		err = shmslab_alloc(slab, &ref);
		if (err == 0)
			err = shmslab_store(slab, ref, msg, (size_t)len);
		if (err == 0)
			printf("%" PRIx64 "\n", ref);
	}
	if (err)
		fprintf(stderr, "demo-producer: %s: %s\n", argv[1], shmslab_strerror(err));
	shmslab_close(slab);
	return err ? 1 : 0;
}
