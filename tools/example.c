/* SPDX-License-Identifier: MIT */
#include <shmslab.h>
#include <stdio.h>
#include <string.h>

/* producer: ./example /name MESSAGE        consumer: ./example /name */
int main(int argc, char **argv)
{
	struct shmslab *slab;
	shmslab_ref ref;
	char buf[4096];
	ssize_t len;

	if (argc < 2 || shmslab_open(argv[1], &slab) != 0)
		return 1;
	if (argc > 2) { /* producer: store the message, hand it to the queue */
		if (shmslab_alloc(slab, &ref) != 0 ||
		    shmslab_store(slab, ref, argv[2], strlen(argv[2])) != 0 ||
		    shmslab_send(slab, ref) != 0)
			return 1;
	} else { /* consumer: wait for a message, read it, free its slot */
		if (shmslab_recv(slab, &ref, -1) != 0 ||
		    (len = shmslab_read(slab, ref, buf, sizeof(buf))) < 0 ||
		    shmslab_free(slab, ref) != 0)
			return 1;
		printf("%.*s\n", (int)len, buf);
	}
	return shmslab_close(slab);
}
