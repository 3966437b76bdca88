/* SPDX-License-Identifier: MIT */
/*
 * An example publisher: once SUBSCRIBERS subscribers are there, publishes
 * COUNT messages to every one of them, written in place, then a "bye".
 *
 *   example-publisher NAME SUBSCRIBERS COUNT
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "shmslab.h"

/* Publish "bye" or message I, written in place, waiting while a subscriber is full. */
static int publish(struct shmslab *slab, int i)
{
	const struct timespec pause = { 0, 1000000 };
	struct shmslab_view v;
	shmslab_ref ref;
	int err;

	while ((err = shmslab_alloc(slab, &ref)) == -ENOSPC)
		nanosleep(&pause, NULL); /* the subscribers still hold every slot */
	if (err)
		return err;
	err = shmslab_write_begin(slab, ref, &v);
	if (err == 0) {
		v.len = (size_t)(i < 0 ? snprintf(v.data, v.cap, "bye")
				       : snprintf(v.data, v.cap, "reading %d: %d degrees", i, 20 + i % 7));
		err = shmslab_write_end(slab, &v);
	}
	/* every subscriber of the moment gets this one slot, read-only */
	while (err == 0 && (err = shmslab_publish(slab, ref)) == -ENOSPC)
		nanosleep(&pause, NULL);
	if (err < 0)
		(void)!shmslab_free(slab, ref); /* not published: still ours to give back */
	return err < 0 ? err : 0;
}

int main(int argc, char **argv)
{
	const struct timespec pause = { 0, 1000000 };
	struct shmslab_stats st;
	struct shmslab *slab;
	int err, count;

	if (argc != 4 || atoi(argv[2]) < 1 || (count = atoi(argv[3])) < 0) {
		fprintf(stderr, "usage: example-publisher NAME SUBSCRIBERS COUNT\n");
		return 2;
	}
	err = shmslab_open(argv[1], &slab);
	/* what is published before a subscriber subscribes never reaches it */
	while (err == 0 && (err = shmslab_stat(slab, &st)) == 0 &&
	       st.subscribers < (uint64_t)atoi(argv[2]))
		nanosleep(&pause, NULL);
	for (int i = 0; err == 0 && i <= count; i++)
		err = publish(slab, i < count ? i : -1);
	if (err)
		fprintf(stderr, "example-publisher: %s: %s\n", argv[1], shmslab_strerror(err));
	else
		printf("publisher: %d messages, then bye\n", count);
	if (slab)
		shmslab_close(slab);
	return err ? 1 : 0;
}
