/* SPDX-License-Identifier: MIT */
/*
 * A separate program for the multi-process tests: it links the installed
 * form of the library and does one job on a segment, so that the tests
 * exercise unrelated processes, not only fork children.
 *
 *   create NAME SLOTS SIZE     create the segment and detach
 *   produce NAME COUNT         store COUNT messages, print their references
 *   consume NAME               read references from stdin, check, free them
 *   writer NAME REF MS         write the slot over and over for MS ms
 *   reader NAME REF MS         read the slot over and over for MS ms
 *   hold-read NAME REF         hold a read view until stdin closes
 *   hold-write NAME REF        hold a write view until stdin closes
 *   qproduce NAME ID COUNT [B] send COUNT messages "p=ID s=SEQ c=CHECK" through the queue;
 *                              with B, in bursts of 1 to B messages, of sizes that vary
 *   qconsume NAME [B]          receive until "stop": check each, print "ID SEQ", free it;
 *                              with B, in bursts of up to 1 to B
 *   send NAME MESSAGE          send one message
 *   recv NAME TIMEOUT          receive one message and print it (exit 4 on a timeout)
 *   publish NAME ID COUNT      publish COUNT messages "p=ID s=SEQ c=CHECK", waiting for
 *                              room as long as it takes
 *   subscribe NAME COUNT       subscribe, print "ready", then receive COUNT messages:
 *                              check each, print "ID SEQ", release it (exit 4 on a timeout)
 *   subscribe-hold NAME K      subscribe, print "ready", receive K messages and keep
 *                              them, print "held", and wait until stdin closes
 *
 * Exit status 0 on success; 3 when a check of mutual exclusion fails.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "shmslab.h"

static struct shmslab *slab;
static const char *segment;

static void fail(const char *what, int err)
{
	fprintf(stderr, "slab-helper: %s %s: %s\n", what, segment, shmslab_strerror(err));
	exit(1);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* A message that carries its own check: "n=<i> sum=<sum of the digits of i * 7919>" */
static int message(char *buf, size_t cap, unsigned i)
{
	unsigned sum = 0;

	for (unsigned v = i * 7919u; v; v /= 10)
		sum += v % 10;
	return snprintf(buf, cap, "n=%u sum=%u", i, sum);
}

static int produce(unsigned count)
{
	char msg[64];

	for (unsigned i = 0; i < count; i++) {
		shmslab_ref ref;
		int len = message(msg, sizeof(msg), i), err = shmslab_alloc(slab, &ref);

		if (err == 0)
			err = shmslab_store(slab, ref, msg, (size_t)len);
		if (err)
			fail("produce", err);
		printf("%" PRIx64 "\n", ref);
	}
	return 0;
}

static int consume(void)
{
	char line[64], msg[64], want[64];
	unsigned n = 0;

	while (fgets(line, sizeof(line), stdin) != NULL) {
		shmslab_ref ref = strtoull(line, NULL, 16);
		ssize_t len = shmslab_read(slab, ref, msg, sizeof(msg));
		unsigned i;
		int err;

		if (len < 0)
			fail("consume", (int)len);
		if (sscanf(msg, "n=%u", &i) != 1 || message(want, sizeof(want), i) != len ||
		    memcmp(msg, want, (size_t)len) != 0) {
			fprintf(stderr, "slab-helper: bad message '%.*s'\n", (int)len, msg);
			return 3;
		}
		err = shmslab_free(slab, ref);
		if (err)
			fail("free", err);
		n++;
	}
	printf("%u\n", n);
	return 0;
}

/*
 * The first 8 bytes of the slot hold the pid of the writer inside, 0 when
 * none is; the rest is one byte value.  A writer that finds another pid, or
 * a reader that finds any pid or two byte values, proves the lock broken.
 */
static int write_loop(shmslab_ref ref, unsigned ms)
{
	uint64_t end = now_ms() + ms, me = (uint64_t)getpid(), rounds = 0;
	struct shmslab_view v;

	while (now_ms() < end) {
		uint64_t marker;
		int err = shmslab_write_begin(slab, ref, &v);

		if (err)
			fail("write_begin", err);
		memcpy(&marker, v.data, 8);
		if (v.len >= 8 && marker != 0)
			return 3;
		memcpy(v.data, &me, 8);
		memset((char *)v.data + 8, (int)(rounds & 0xff), v.cap - 8);
		memcpy(&marker, v.data, 8);
		if (marker != me)
			return 3;
		memset(v.data, 0, 8);
		v.len = v.cap;
		err = shmslab_write_end(slab, &v);
		if (err)
			fail("write_end", err);
		rounds++;
	}
	printf("%" PRIu64 "\n", rounds);
	return rounds > 0 ? 0 : 1;
}

static int read_loop(shmslab_ref ref, unsigned ms)
{
	uint64_t end = now_ms() + ms, rounds = 0;
	struct shmslab_view v;

	while (now_ms() < end) {
		const unsigned char *p;
		uint64_t marker;
		int err = shmslab_read_begin(slab, ref, &v);

		if (err)
			fail("read_begin", err);
		p = v.data;
		memcpy(&marker, p, 8);
		if (v.len >= 8 && marker != 0)
			return 3;
		for (size_t i = 9; i < v.len; i++)
			if (p[i] != p[8])
				return 3;
		err = shmslab_read_end(slab, &v);
		if (err)
			fail("read_end", err);
		rounds++;
	}
	printf("%" PRIu64 "\n", rounds);
	return rounds > 0 ? 0 : 1;
}

static unsigned check_of(unsigned id, unsigned seq)
{
	return (id * 2654435761u) ^ (seq * 40503u) ^ 0x5eed;
}

/* Send, waiting for a slot and for room in the queue as long as it takes. */
static void send_text(const char *text, size_t len)
{
	shmslab_ref ref;
	int err;

	while ((err = shmslab_alloc(slab, &ref)) == -ENOSPC)
		usleep(100);
	if (err == 0)
		err = shmslab_store(slab, ref, text, len);
	if (err == 0)
		while ((err = shmslab_send(slab, ref)) == -ENOSPC)
			usleep(100);
	if (err)
		fail("send", err);
}

static int qproduce_one(const char *text)
{
	send_text(text, strlen(text));
	return 0;
}

/* The size of burst number ROUND of party ID, 1 to MAX: sizes that vary. */
static unsigned burst_size(unsigned id, unsigned round, unsigned max)
{
	return 1 + (round * 7919u + id * 104729u) % max;
}

/* Send the COUNT messages of producer ID in bursts of at most MAX. */
static void qproduce_bursts(unsigned id, unsigned count, unsigned max)
{
	shmslab_ref refs[64];
	char msg[64];

	for (unsigned seq = 0, round = 0; seq < count; round++) {
		unsigned want = burst_size(id, round, max), sent = 0;
		int n;

		if (want > count - seq)
			want = count - seq;
		while ((n = shmslab_alloc_many(slab, refs, want)) == -ENOSPC)
			usleep(100);
		if (n < 0)
			fail("alloc_many", n);
		for (int i = 0; i < n; i++) {
			int len = snprintf(msg, sizeof(msg), "p=%u s=%u c=%u", id, seq + (unsigned)i,
					   check_of(id, seq + (unsigned)i));
			int err = shmslab_store(slab, refs[i], msg, (size_t)len);

			if (err)
				fail("store", err);
		}
		while (sent < (unsigned)n) {
			int k = shmslab_send_many(slab, refs + sent, (unsigned)n - sent);

			if (k == -ENOSPC)
				usleep(100);
			else if (k < 0)
				fail("send_many", k);
			else
				sent += (unsigned)k;
		}
		seq += (unsigned)n;
	}
}

static int qproduce(unsigned id, unsigned count, unsigned burst)
{
	char msg[64];

	if (burst > 64)
		return 2;
	if (burst > 0) {
		qproduce_bursts(id, count, burst);
		return 0;
	}
	for (unsigned seq = 0; seq < count; seq++) {
		int len = snprintf(msg, sizeof(msg), "p=%u s=%u c=%u", id, seq, check_of(id, seq));

		send_text(msg, (size_t)len);
	}
	return 0;
}

static int publish(unsigned id, unsigned count)
{
	char msg[64];

	for (unsigned seq = 0; seq < count; seq++) {
		int len = snprintf(msg, sizeof(msg), "p=%u s=%u c=%u", id, seq, check_of(id, seq));
		shmslab_ref ref;
		int err;

		/* subscribers that have not let go hold the slots: wait for them */
		while ((err = shmslab_alloc(slab, &ref)) == -ENOSPC)
			usleep(100);
		if (err == 0)
			err = shmslab_store(slab, ref, msg, (size_t)len);
		if (err == 0)
			while ((err = shmslab_publish(slab, ref)) == -ENOSPC)
				usleep(100);
		if (err < 0)
			fail("publish", err);
	}
	return 0;
}

/* Subscribe and say so, for the test that waits to publish until then. */
static struct shmslab_sub *subscribe_ready(void)
{
	struct shmslab_sub *sub;
	int err = shmslab_subscribe(slab, &sub);

	if (err)
		fail("subscribe", err);
	printf("ready\n");
	fflush(stdout);
	return sub;
}

static int subscribe(unsigned count)
{
	struct shmslab_sub *sub = subscribe_ready();
	char msg[64];

	for (unsigned i = 0; i < count; i++) {
		unsigned id, seq, check;
		shmslab_ref ref;
		ssize_t len;
		int err = shmslab_sub_recv(sub, &ref, 30000);

		if (err == -ETIMEDOUT)
			return 4;
		if (err)
			fail("sub_recv", err);
		len = shmslab_read(slab, ref, msg, sizeof(msg) - 1);
		if (len < 0)
			fail("read", (int)len);
		msg[len] = '\0';
		if (sscanf(msg, "p=%u s=%u c=%u", &id, &seq, &check) != 3 ||
		    check != check_of(id, seq)) {
			fprintf(stderr, "slab-helper: bad message '%s'\n", msg);
			return 3;
		}
		/* published: read-only for everyone */
		if (shmslab_store(slab, ref, "x", 1) != -EBUSY || shmslab_free(slab, ref) != -EBUSY) {
			fprintf(stderr, "slab-helper: a published slot is not read-only\n");
			return 3;
		}
		if ((err = shmslab_sub_release(sub, ref)) != 0)
			fail("sub_release", err);
		printf("%u %u\n", id, seq);
	}
	fflush(stdout);
	return shmslab_unsubscribe(sub) == 0 ? 0 : 1;
}

static int subscribe_hold(unsigned k)
{
	struct shmslab_sub *sub = subscribe_ready();
	char line[16];

	for (unsigned i = 0; i < k; i++) {
		shmslab_ref ref;
		int err = shmslab_sub_recv(sub, &ref, 30000);

		if (err)
			fail("sub_recv", err);
	}
	printf("held\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin) != NULL)
		;
	return 0;
}

/*
 * Check the message of REF, print it, free it: 1 for "stop", 0 for a
 * message, 3 for a bad one.
 */
static int qconsume_one(shmslab_ref ref)
{
	char msg[64];
	unsigned id, seq, check;
	ssize_t len = shmslab_read(slab, ref, msg, sizeof(msg) - 1);
	int err;

	if (len < 0)
		fail("read", (int)len);
	msg[len] = '\0';
	err = shmslab_free(slab, ref);
	if (err)
		fail("free", err);
	if (strcmp(msg, "stop") == 0)
		return 1;
	if (sscanf(msg, "p=%u s=%u c=%u", &id, &seq, &check) != 3 || check != check_of(id, seq)) {
		fprintf(stderr, "slab-helper: bad message '%s'\n", msg);
		return 3;
	}
	printf("%u %u\n", id, seq);
	return 0;
}

static int qconsume(unsigned burst)
{
	shmslab_ref refs[64];

	if (burst > 64)
		return 2;
	for (unsigned round = 0;; round++) {
		unsigned want = burst > 0 ? burst_size((unsigned)getpid(), round, burst) : 1;
		int n = shmslab_recv_many(slab, refs, want, -1);

		if (n < 0)
			fail("recv", n);
		for (int i = 0; i < n; i++) {
			int r;

			r = qconsume_one(refs[i]);
			if (r == 1) {
				/* the stops of other consumers that came in this burst go back */
				if (i + 1 < n && shmslab_send_many(slab, refs + i + 1,
								   (unsigned)(n - i - 1)) != n - i - 1)
					fail("send_many", -EIO);
				return 0;
			}
			if (r != 0)
				return r;
		}
	}
}

static int recv_one(int timeout)
{
	char msg[4096];
	shmslab_ref ref;
	ssize_t len;
	int err = shmslab_recv(slab, &ref, timeout);

	if (err == -ETIMEDOUT)
		return 4;
	if (err)
		fail("recv", err);
	len = shmslab_read(slab, ref, msg, sizeof(msg));
	if (len < 0)
		fail("read", (int)len);
	printf("%.*s\n", (int)len, msg);
	err = shmslab_free(slab, ref);
	if (err)
		fail("free", err);
	return 0;
}

static int hold(shmslab_ref ref, int write)
{
	struct shmslab_view v;
	char c;
	int err = write ? shmslab_write_begin(slab, ref, &v) : shmslab_read_begin(slab, ref, &v);

	if (err)
		fail("hold", err);
	printf("held\n");
	fflush(stdout);
	while (read(0, &c, 1) > 0)
		;
	if (write) {
		memcpy(v.data, "from helper", 11);
		v.len = 11;
		err = shmslab_write_end(slab, &v);
	} else {
		err = shmslab_read_end(slab, &v);
	}
	if (err)
		fail("hold end", err);
	return 0;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 2 ? argv[1] : "";
	int err, status;

	if (argc < 3) {
		fprintf(stderr, "usage: slab-helper COMMAND NAME [ARG]...\n");
		return 2;
	}
	segment = argv[2];
	if (strcmp(cmd, "create") == 0 && argc == 5) {
		struct shmslab_config cfg;

		shmslab_config_init(&cfg);
		cfg.slot_count = (uint32_t)atoi(argv[3]);
		cfg.slot_size = (uint32_t)atoi(argv[4]);
		err = shmslab_create(segment, &cfg, &slab);
		if (err)
			fail("create", err);
		return shmslab_close(slab);
	}
	err = shmslab_open(segment, &slab);
	if (err)
		fail("open", err);
	if (strcmp(cmd, "produce") == 0 && argc == 4)
		status = produce((unsigned)atoi(argv[3]));
	else if (strcmp(cmd, "consume") == 0 && argc == 3)
		status = consume();
	else if (strcmp(cmd, "writer") == 0 && argc == 5)
		status = write_loop(strtoull(argv[3], NULL, 16), (unsigned)atoi(argv[4]));
	else if (strcmp(cmd, "reader") == 0 && argc == 5)
		status = read_loop(strtoull(argv[3], NULL, 16), (unsigned)atoi(argv[4]));
	else if (strcmp(cmd, "hold-read") == 0 && argc == 4)
		status = hold(strtoull(argv[3], NULL, 16), 0);
	else if (strcmp(cmd, "hold-write") == 0 && argc == 4)
		status = hold(strtoull(argv[3], NULL, 16), 1);
	else if (strcmp(cmd, "qproduce") == 0 && (argc == 5 || argc == 6))
		status = qproduce((unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]),
				  argc == 6 ? (unsigned)atoi(argv[5]) : 0);
	else if (strcmp(cmd, "qconsume") == 0 && (argc == 3 || argc == 4))
		status = qconsume(argc == 4 ? (unsigned)atoi(argv[3]) : 0);
	else if (strcmp(cmd, "send") == 0 && argc == 4)
		status = qproduce_one(argv[3]);
	else if (strcmp(cmd, "recv") == 0 && argc == 4)
		status = recv_one(atoi(argv[3]));
	else if (strcmp(cmd, "publish") == 0 && argc == 5)
		status = publish((unsigned)atoi(argv[3]), (unsigned)atoi(argv[4]));
	else if (strcmp(cmd, "subscribe") == 0 && argc == 4)
		status = subscribe((unsigned)atoi(argv[3]));
	else if (strcmp(cmd, "subscribe-hold") == 0 && argc == 4)
		status = subscribe_hold((unsigned)atoi(argv[3]));
	else
		status = 2;
	shmslab_close(slab);
	return status;
}
