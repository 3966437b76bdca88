/* SPDX-License-Identifier: MIT */
/*
 * An example producer: writes COUNT messages straight into slots of segment
 * NAME and hands each to the queue, then a last "bye".  With
 * tools/example-consumer, the intended use of libshmslab in a few lines.
 *
 *   example-producer NAME COUNT
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "shmslab.h"

/* Send message N, or "bye" for 0. */
static int send_message(struct shmslab *slab, int n)
{
	struct shmslab_view v;
	shmslab_ref ref;
	int err;

	/* no free slot: the consumer is behind; give it a moment */
	while ((err = shmslab_alloc(slab, &ref)) == -ENOSPC)
		usleep(1000);
	if (err)
		return err;
	/* write in place: no copy through a buffer of our own */
	err = shmslab_write_begin(slab, ref, &v);
	if (err == 0) {
		int len = n > 0 ? snprintf(v.data, v.cap, "message %d from producer %d", n,
					   (int)getpid())
				: snprintf(v.data, v.cap, "bye");

		v.len = len < 0 ? 0 : (size_t)len < v.cap ? (size_t)len : v.cap;
		err = shmslab_write_end(slab, &v);
	}
	/* the queue is full: the consumer is behind */
	while (err == 0 && (err = shmslab_send(slab, ref)) == -ENOSPC)
		usleep(1000);
	if (err)
		(void)!shmslab_free(slab, ref); /* never sent: still ours to give back */
	return err;
}

int main(int argc, char **argv)
{
	struct shmslab *slab;
	int count, err;

	if (argc != 3 || (count = atoi(argv[2])) <= 0) {
		fprintf(stderr, "usage: example-producer NAME COUNT\n");
		return 2;
	}
	err = shmslab_open(argv[1], &slab);
	for (int i = 1; i <= count && err == 0; i++)
		err = send_message(slab, i);
	if (err == 0)
		err = send_message(slab, 0);
	if (err)
		fprintf(stderr, "example-producer: %s: %s\n", argv[1], shmslab_strerror(err));
	else
		printf("producer: sent %d messages and a bye\n", count);
	if (slab)
		shmslab_close(slab);
	return err ? 1 : 0;
}
