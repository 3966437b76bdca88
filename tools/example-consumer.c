/* SPDX-License-Identifier: MIT */
/*
 * An example consumer: waits for messages on the queue of segment NAME,
 * reads each in place, prints it and frees its slot, until a "bye".
 *
 *   example-consumer NAME
 */
#include <stdio.h>
#include <string.h>

#include "shmslab.h"

int main(int argc, char **argv)
{
	struct shmslab *slab;
	int err, received = 0, bye = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: example-consumer NAME\n");
		return 2;
	}
	err = shmslab_open(argv[1], &slab);
	while (err == 0 && !bye) {
		struct shmslab_view v;
		shmslab_ref ref;

		/* sleeps in the kernel until a producer sends something */
		err = shmslab_recv(slab, &ref, -1);
		if (err)
			break;
		/* the slot is ours now: read it in place, then give it back */
		err = shmslab_read_begin(slab, ref, &v);
		if (err == 0) {
			bye = v.len == 3 && memcmp(v.data, "bye", 3) == 0;
			if (!bye)
				printf("consumer got: %.*s\n", (int)v.len, (const char *)v.data);
			err = shmslab_read_end(slab, &v);
		}
		if (err == 0)
			err = shmslab_free(slab, ref);
		received += !bye;
	}
	if (err)
		fprintf(stderr, "example-consumer: %s: %s\n", argv[1], shmslab_strerror(err));
	else
		printf("consumer: %d messages, then bye\n", received);
	if (slab)
		shmslab_close(slab);
	return err ? 1 : 0;
}
