/* SPDX-License-Identifier: MIT */
/*
 * The kill-point scenario: a separate program, linked with a build of the
 * library that has kill points, that goes through every step of every
 * operation in turn.  Run with SHMSLAB_KILLPOINT=name it dies by SIGKILL at
 * that step; tests/test-recover.c then recovers and checks the invariant.
 *
 *   kp-helper NAME            run the scenario on segment NAME
 *   kp-helper NAME send REF   only send REF (a slot of another process)
 *   kp-helper NAME create     only create segment NAME (8 slots of 64 bytes)
 *   kp-helper NAME publish    only publish one message, "fanned out"
 *   kp-helper NAME recover    only recover
 *
 * The segment needs room to grow beyond its first page (test-recover makes
 * it 8 slots growing to 64).  Exit status 0 when the scenario ran to its end,
 * which for a test that asked for a kill point means the point was missed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shmslab.h"

static const char *segment;

static void need(int err, const char *what)
{
	if (err < 0) {
		fprintf(stderr, "kp-helper: %s %s: %s\n", what, segment, shmslab_strerror(err));
		exit(1);
	}
}

int main(int argc, char **argv)
{
	struct shmslab *slab, *other;
	struct shmslab_view v;
	shmslab_ref a, b, c, d, e, held, q1, q2, got, refs[63], burst[3];
	struct shmslab_sub *sub, *sub2;
	char buf[64];
	int n = 0;

	if (argc != 2 && !(argc == 4 && strcmp(argv[2], "send") == 0) &&
	    !(argc == 3 && (strcmp(argv[2], "create") == 0 || strcmp(argv[2], "publish") == 0 ||
			    strcmp(argv[2], "recover") == 0))) {
		fprintf(stderr, "usage: kp-helper NAME [send REF | create | publish | recover]\n");
		return 2;
	}
	segment = argv[1];
	if (argc == 3 && strcmp(argv[2], "recover") == 0) {
		need(shmslab_open(segment, &slab), "open");
		need(shmslab_recover(slab), "recover");
		return shmslab_close(slab) == 0 ? 0 : 1;
	}
	if (argc == 3 && strcmp(argv[2], "publish") == 0) {
		need(shmslab_open(segment, &slab), "open");
		need(shmslab_alloc(slab, &a), "alloc");
		need(shmslab_store(slab, a, "fanned out", 10), "store");
		need(shmslab_publish(slab, a), "publish");
		return shmslab_close(slab) == 0 ? 0 : 1;
	}
	if (argc == 3) {
		struct shmslab_config cfg;

		shmslab_config_init(&cfg);
		cfg.slot_count = 8;
		cfg.slot_size = 64;
		need(shmslab_create(segment, &cfg, &slab), "create");
		return shmslab_close(slab) == 0 ? 0 : 1;
	}
	if (argc == 4) {
		need(shmslab_open(segment, &slab), "open");
		need(shmslab_send(slab, strtoull(argv[3], NULL, 0)), "send");
		return shmslab_close(slab) == 0 ? 0 : 1;
	}
	/* attach_locked, attach_live */
	need(shmslab_open(segment, &slab), "open");
	/* alloc_pop_journaled, alloc_popped, alloc_owned */
	need(shmslab_alloc(slab, &held), "alloc"); /* held to the end: what a crash leaves owned */
	need(shmslab_alloc(slab, &a), "alloc");
	need(shmslab_alloc(slab, &b), "alloc");
	/* write_locked, write_drained, store_half_copied, store_copied */
	need(shmslab_store(slab, a, "a message of some length", 24), "store");
	need(shmslab_store(slab, b, "another message", 15), "store");
	/* read_bit_set, read_locked, read_end_bit_cleared */
	need((int)shmslab_read(slab, a, buf, sizeof(buf)), "read");
	need(shmslab_read_begin(slab, b, &v), "read_begin");
	need(shmslab_read_end(slab, &v), "read_end");
	/* write_end_unlocking */
	need(shmslab_write_begin(slab, b, &v), "write_begin");
	memcpy(v.data, "rewritten", 9);
	v.len = 9;
	need(shmslab_write_end(slab, &v), "write_end");
	/* send_journaled, send_queued, send_published */
	need(shmslab_alloc(slab, &q1), "alloc");
	need(shmslab_alloc(slab, &q2), "alloc");
	need(shmslab_store(slab, q1, "first", 5), "store");
	need(shmslab_store(slab, q2, "second", 6), "store");
	need(shmslab_send(slab, q1), "send");
	need(shmslab_send(slab, q2), "send");
	/* recv_journaled, recv_taken, recv_owned: first in, first out */
	need(shmslab_recv(slab, &got, 0), "recv");
	if (got != q1) {
		fprintf(stderr, "kp-helper: the queue is not first in, first out\n");
		return 1;
	}
	need(shmslab_recv(slab, &got, -1), "recv");
	/* recv_waiting: nothing comes */
	if (shmslab_recv(slab, &c, 20) != -ETIMEDOUT) {
		fprintf(stderr, "kp-helper: an empty queue did not time out\n");
		return 1;
	}
	/* the received slots stay ours: what a crash leaves owned */
	/* free_freeing, free_drained, free_kept: the first free is kept back */
	need(shmslab_free(slab, a), "free");
	/* free_journaled, free_marked, free_pushed: this thread keeps one already */
	need(shmslab_free(slab, b), "free");
	/* alloc_kept_claimed */
	need(shmslab_alloc(slab, &a), "alloc");
	need(shmslab_store(slab, a, "kept", 4), "store");
	/* grow_claimed, grow_reserved, grow_published, grow_pushed: past the first page */
	while (n < 16)
		need(shmslab_alloc(slab, &refs[n++]), "alloc");
	need(shmslab_open(segment, &other), "open");
	/* alloc_taken, alloc_local_popped: another attachment's slot, freed
	 * here, goes to its remote list, which its next alloc takes whole */
	need(shmslab_alloc(other, &d), "alloc");
	need(shmslab_alloc(slab, &e), "alloc");
	need(shmslab_free(slab, e), "free"); /* kept back: the next free goes home */
	need(shmslab_free(slab, d), "free");
	need(shmslab_alloc(other, &d), "alloc");
	need(shmslab_free(other, d), "free");
	/* alloc_stolen: the other attachment keeps a slot back; empty the lists; take it */
	need(shmslab_alloc(other, &c), "alloc");
	need(shmslab_free(other, c), "free");
	while (n < 63 && shmslab_alloc(slab, &refs[n]) == 0)
		n++;
	shmslab_close(other);
	/* recover_*: whatever processes died before this one */
	need(shmslab_recover(slab), "recover");
	while (n > 0)
		need(shmslab_free(slab, refs[--n]), "free");
	need(shmslab_free(slab, held), "free");
	need(shmslab_free(slab, q1), "free");
	need(shmslab_free(slab, q2), "free");
	/* alloc_many_partway, send_many_partway, recv_many_partway: bursts of three */
	if (shmslab_alloc_many(slab, refs, 3) != 3) {
		fprintf(stderr, "kp-helper: a burst of three slots did not come whole\n");
		return 1;
	}
	need(shmslab_store(slab, refs[0], "x", 1), "store");
	need(shmslab_store(slab, refs[1], "y", 1), "store");
	need(shmslab_store(slab, refs[2], "z", 1), "store");
	if (shmslab_send_many(slab, refs, 3) != 3 || shmslab_recv_many(slab, burst, 3, 0) != 3 ||
	    memcmp(burst, refs, sizeof(burst)) != 0) {
		fprintf(stderr, "kp-helper: a burst of three did not go through in order\n");
		return 1;
	}
	for (n = 0; n < 3; n++)
		need(shmslab_free(slab, burst[n]), "free");
	n = 0;
	/* subscribe_claimed, subscribe_joined */
	need(shmslab_subscribe(slab, &sub), "subscribe");
	/* publish_journaled, publish_turn, publish_prepared, publish_marked, publish_filled */
	need(shmslab_alloc(slab, &c), "alloc");
	need(shmslab_store(slab, c, "pub1", 4), "store");
	if (shmslab_publish(slab, c) != 1) {
		fprintf(stderr, "kp-helper: a publish did not reach its one subscriber\n");
		return 1;
	}
	/* sub_received */
	need(shmslab_sub_recv(sub, &got, 0), "sub_recv");
	need(shmslab_subscribe(slab, &sub2), "subscribe");
	need(shmslab_alloc(slab, &d), "alloc");
	need(shmslab_store(slab, d, "pub2", 4), "store");
	if (shmslab_publish(slab, d) != 2 || got != c) {
		fprintf(stderr, "kp-helper: publish/subscribe lost its way\n");
		return 1;
	}
	/* release_cleared, release_freeing: pub1's last subscriber lets go */
	need(shmslab_sub_release(sub, got), "sub_release");
	need(shmslab_sub_recv(sub, &got, 0), "sub_recv"); /* pub2, held to the end */
	need(shmslab_alloc(slab, &e), "alloc");
	need(shmslab_publish(slab, e), "publish"); /* waiting for both, to the end */
	/* unsubscribe_left: sub2 lets go of pub2 and of the last, never received */
	need(shmslab_unsubscribe(sub2), "unsubscribe");
	need(shmslab_store(slab, a, "held at detach", 14), "store");
	/* detach_partway, detach_released */
	need(shmslab_close(slab), "close");
	return 0;
}
