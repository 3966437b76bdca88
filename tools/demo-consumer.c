/* SPDX-License-Identifier: MIT */
/*
 * The demo's consumer: reads references from standard input, one per line,
 * prints the message in each slot of segment NAME, and frees the slot.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>

#include "shmslab.h"

int main(int argc, char **argv)
{
	struct shmslab *slab;
	char line[64], msg[4096];
	int err, received = 0;

	if (argc != 2) {
		fprintf(stderr, "usage: demo-consumer NAME < references\n");
		return 2;
	}
	err = shmslab_open(argv[1], &slab);
	if (err) {
		fprintf(stderr, "demo-consumer: %s: %s\n", argv[1], shmslab_strerror(err));
		return 1;
	}
	while (err == 0 && fgets(line, sizeof(line), stdin) != NULL) {
		shmslab_ref ref = strtoull(line, NULL, 16);
		ssize_t len = shmslab_read(slab, ref, msg, sizeof(msg));

		if (len < 0) {
			err = (int)len;
			break;
		}
		printf("consumer got: %.*s\n", (int)len, msg);
		err = shmslab_free(slab, ref);
		received++;
	}
	if (err)
		fprintf(stderr, "demo-consumer: %s: %s\n", argv[1], shmslab_strerror(err));
	else
		printf("consumer: %d messages read and freed\n", received);
	shmslab_close(slab);
	return err ? 1 : 0;
}
