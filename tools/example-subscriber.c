/* SPDX-License-Identifier: MIT */
/*
 * An example subscriber: prints every message published to segment NAME,
 * reading each in place, until a "bye".
 *
 *   example-subscriber NAME LABEL
 */
#include <stdio.h>
#include <string.h>

#include "shmslab.h"

int main(int argc, char **argv)
{
	struct shmslab_sub *sub = NULL;
	struct shmslab *slab;
	int err, received = 0, bye = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: example-subscriber NAME LABEL\n");
		return 2;
	}
	err = shmslab_open(argv[1], &slab);
	if (err == 0)
		err = shmslab_subscribe(slab, &sub);
	while (err == 0 && !bye) {
		struct shmslab_view v;
		shmslab_ref ref;

		/* sleeps in the kernel until something is published */
		err = shmslab_sub_recv(sub, &ref, -1);
		if (err)
			break;
		/* shared with every other subscriber: read it in place, then let go */
		err = shmslab_read_begin(slab, ref, &v);
		if (err == 0) {
			bye = v.len == 3 && memcmp(v.data, "bye", 3) == 0;
			if (!bye)
				printf("%s got: %.*s\n", argv[2], (int)v.len, (const char *)v.data);
			err = shmslab_read_end(slab, &v);
		}
		if (err == 0)
			err = shmslab_sub_release(sub, ref);
		received += !bye;
	}
	if (err)
		fprintf(stderr, "example-subscriber: %s: %s\n", argv[1], shmslab_strerror(err));
	else
		printf("%s: %d messages, then bye\n", argv[2], received);
	if (slab)
		shmslab_close(slab); /* ends the subscription too */
	return err ? 1 : 0;
}
