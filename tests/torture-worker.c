/* SPDX-License-Identifier: MIT */
/*
 * A torture worker: random operations on a segment, forever, until it is
 * killed.  It publishes some of its slots on a board (a small shared table)
 * and reads and rewrites slots that other workers published, so that locks
 * are held across processes when the driver kills one.
 *
 *   torture-worker NAME BOARD SEED
 *
 * Every message carries a checksum.  A message read as valid (read returns
 * its length) that fails its checksum is a torn message shown as whole: the
 * worker exits 3.  Any other unexpected error: exit 1.  It writes a byte to
 * stdout every 256 operations, so the driver sees it is not stuck.  It
 * allocates in bursts, sends and receives one at a time or in bursts, and
 * publishes some of its slots, subscribed itself now and then.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "shmslab.h"

#define HELD	8
#define SUBHELD 4
#define MSG_MAX 256

static struct shmslab *slab;
static struct shmslab_sub *sub; /* NULL while not subscribed */
static shmslab_ref subheld[SUBHELD];
static uint32_t nsubheld;
static _Atomic uint64_t *board;
static uint32_t board_len;
static uint64_t rng;

static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static uint32_t checksum(const uint8_t *p, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

/* A message of random length: its bytes, then the checksum of those bytes. */
static size_t make_message(uint8_t *buf)
{
	size_t len = 4 + rnd(MSG_MAX - 8);
	uint32_t sum;

	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)rnd(256);
	sum = checksum(buf, len);
	memcpy(buf + len, &sum, 4);
	return len + 4;
}

static int message_whole(const uint8_t *buf, size_t len)
{
	uint32_t sum;

	if (len == 0)
		return 1; /* freshly allocated, never stored */
	if (len < 8)
		return 0;
	memcpy(&sum, buf + len - 4, 4);
	return sum == checksum(buf, len - 4);
}

static void die(const char *what, int err)
{
	fprintf(stderr, "torture-worker %d: %s: %s\n", (int)getpid(), what, shmslab_strerror(err));
	exit(1);
}

/* A read of someone's slot: whole, or an error that says why not. */
static void check_read(shmslab_ref ref, int own)
{
	uint8_t buf[MSG_MAX];
	ssize_t len = shmslab_read(slab, ref, buf, sizeof(buf));

	if (len >= 0 && !message_whole(buf, (size_t)len)) {
		fprintf(stderr, "torture-worker %d: a torn message read as whole\n", (int)getpid());
		exit(3);
	}
	/* ours is never freed under us; anyone's may be torn by a writer that died */
	if (len < 0 && len != -EOWNERDEAD && (own || (len != -ESTALE && len != -EINVAL)))
		die("read", (int)len);
}

static void write_view(shmslab_ref ref, int own)
{
	uint8_t msg[MSG_MAX];
	struct shmslab_view v;
	size_t len = make_message(msg);
	int err = shmslab_write_begin(slab, ref, &v);

	if (err) {
		/* someone else's: freed, or published (read-only) meanwhile */
		if (own || (err != -ESTALE && err != -EINVAL && err != -EBUSY))
			die("write_begin", err);
		return;
	}
	/* two halves: a kill between them leaves the message torn */
	memcpy(v.data, msg, len / 2);
	memcpy((uint8_t *)v.data + len / 2, msg + len / 2, len - len / 2);
	v.len = len;
	err = shmslab_write_end(slab, &v);
	if (err)
		die("write_end", err);
}

/* Subscribe, or with one held, let go of everything and leave. */
static void subscription_toggle(void)
{
	int err;

	if (sub == NULL) {
		err = shmslab_subscribe(slab, &sub);
		if (err == -EUSERS)
			sub = NULL;
		else if (err)
			die("subscribe", err);
		return;
	}
	while (nsubheld > 0)
		if ((err = shmslab_sub_release(sub, subheld[--nsubheld])) != 0)
			die("sub_release", err);
	if ((err = shmslab_unsubscribe(sub)) != 0)
		die("unsubscribe", err);
	sub = NULL;
}

/* Receive what is published to us, or let go of something received. */
static void subscriber_step(void)
{
	int err;

	if (sub == NULL)
		return;
	if (nsubheld == SUBHELD || (nsubheld > 0 && rnd(2))) {
		uint32_t i = rnd(nsubheld);

		if ((err = shmslab_sub_release(sub, subheld[i])) != 0)
			die("sub_release", err);
		subheld[i] = subheld[--nsubheld];
		return;
	}
	err = shmslab_sub_recv(sub, &subheld[nsubheld], rnd(2) ? 0 : 1);
	if (err == -EAGAIN || err == -ETIMEDOUT)
		return;
	if (err)
		die("sub_recv", err);
	/* held by us: never freed under us, whole or torn by a writer that died */
	check_read(subheld[nsubheld++], 1);
}

/* Publish one of ours, subscribe or leave, or be a subscriber for a step. */
static void pubsub_step(shmslab_ref *held, uint32_t *nheld)
{
	uint32_t pick = rnd(10);

	if (pick == 0) {
		subscription_toggle();
	} else if (pick < 5 && *nheld > 0) {
		/* read-only, and no longer ours, from here */
		uint32_t i = rnd(*nheld);
		int err = shmslab_publish(slab, held[i]);

		/* a full subscriber, or another worker writing it (the board) */
		if (err >= 0)
			held[i] = held[--*nheld];
		else if (err != -ENOSPC && err != -EBUSY)
			die("publish", err);
	} else {
		subscriber_step();
	}
}

int main(int argc, char **argv)
{
	shmslab_ref held[HELD];
	uint32_t nheld = 0;
	uint64_t ops = 0;
	int fd, err;

	if (argc != 4) {
		fprintf(stderr, "usage: torture-worker NAME BOARD SEED\n");
		return 2;
	}
	rng = strtoull(argv[3], NULL, 10) * 0x9e3779b97f4a7c15ull + 1;
	fd = shm_open(argv[2], O_RDWR, 0);
	if (fd < 0)
		die("board", -errno);
	board_len = 64;
	board = mmap(NULL, board_len * sizeof(*board), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	close(fd);
	if (board == MAP_FAILED)
		die("board", -errno);
	err = shmslab_open(argv[1], &slab);
	if (err)
		die("open", err);
	for (;;) {
		uint32_t pick = rnd(100);

		if (rnd(6) == 0) {
			pubsub_step(held, &nheld);
		} else if (pick < 25 && nheld < HELD) {
			uint8_t msg[MSG_MAX];
			size_t len;

			int n = 1;

			if (rnd(2))
				n = shmslab_alloc_many(slab, &held[nheld], 1 + rnd(HELD - nheld));
			else if ((err = shmslab_alloc(slab, &held[nheld])) != 0)
				n = err;

			if (n == -ENOSPC)
				continue;
			if (n < 0)
				die("alloc", n);
			for (int i = 0; i < n; i++) {
				len = make_message(msg);
				err = shmslab_store(slab, held[nheld], msg, len);
				if (err)
					die("store", err);
				nheld++;
			}
		} else if (pick < 45 && nheld > 0) {
			uint32_t i = rnd(nheld);

			err = shmslab_free(slab, held[i]);
			if (err)
				die("free", err);
			held[i] = held[--nheld];
		} else if (pick < 55 && nheld > 0) {
			check_read(held[rnd(nheld)], 1);
		} else if (pick < 62 && nheld > 0) {
			write_view(held[rnd(nheld)], 1);
		} else if (pick < 70 && nheld > 0) {
			/* publish: others will read and rewrite it */
			atomic_store(&board[rnd(board_len)], held[rnd(nheld)]);
		} else if (pick < 82) {
			shmslab_ref ref = atomic_load(&board[rnd(board_len)]);

			if (ref != SHMSLAB_REF_NONE)
				check_read(ref, 0);
		} else if (pick < 88) {
			shmslab_ref ref = atomic_load(&board[rnd(board_len)]);

			if (ref != SHMSLAB_REF_NONE)
				write_view(ref, 0);
		} else if (pick < 92) {
			/* hand one of ours to the queue: no longer ours once sent */
			if (nheld == 0)
				continue;
			uint32_t i = rnd(nheld);

			if (rnd(2)) {
				/* a burst of the first few */
				int n = shmslab_send_many(slab, held, 1 + i);

				if (n < 0 && n != -ENOSPC)
					die("send_many", n);
				for (int k = n; k > 0; k--)
					held[k - 1] = held[--nheld];
				continue;
			}
			err = shmslab_send(slab, held[i]);
			if (err == 0)
				held[i] = held[--nheld];
			else if (err != -ENOSPC)
				die("send", err);
		} else if (pick < 96) {
			shmslab_ref got[4];
			int n = shmslab_recv_many(slab, got, 1 + rnd(4), rnd(2) ? 0 : 1);

			if (n == -EAGAIN || n == -ETIMEDOUT)
				continue;
			if (n < 0)
				die("recv", n);
			for (int k = 0; k < n; k++) {
				check_read(got[k], 1);
				if (nheld < HELD) {
					held[nheld++] = got[k];
				} else if ((err = shmslab_free(slab, got[k])) != 0) {
					die("free", err);
				}
			}
		} else if (pick < 97) {
			err = shmslab_recover(slab);
			if (err < 0)
				die("recover", err);
		} else if (pick < 98) {
			/* leave and come back, giving back what we hold */
			while (nheld > 0)
				if ((err = shmslab_free(slab, held[--nheld])) != 0)
					die("free", err);
			shmslab_close(slab); /* ends the subscription, and lets go of it all */
			sub = NULL;
			nsubheld = 0;
			err = shmslab_open(argv[1], &slab);
			if (err)
				die("reopen", err);
		}
		if (++ops % 256 == 0 && write(1, "", 1) != 1)
			return 1;
	}
}
