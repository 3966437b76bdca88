/* SPDX-License-Identifier: MIT */
/*
 * The invariant every recovery must restore, checked from inside the
 * library's structures while nothing else runs on the segment.
 */
#ifndef SHMSLAB_TEST_INVARIANT_H
#define SHMSLAB_TEST_INVARIANT_H

#include <stddef.h>

#include "shmslab.h"

/*
 * Every slot is exactly one of: on exactly one free list, kept back by a
 * live process, or allocated to a live process (or to nobody, after its
 * allocator detached).  No lock is held by a process that is not alive, no
 * list is blocked, no entry of the process table is dead, no lane of a live
 * process is in a window and no free one names anything, every queued slot
 * is in exactly one cell of the queue, which marks no process asleep, no slot
 * says a writer or a waiter is inside a lock call, shmslab_stat's counts are
 * those of the slots, and available + allocated + queued = capacity.  Answers
 * NULL when all of that holds, else what does not, in BUF.
 */
const char *invariant_check(struct shmslab *slab, char *buf, size_t len);

/*
 * The segment keeps working: every free slot can be allocated (growing up to
 * max_slots), stored, read back and freed.  NULL, or what failed, in BUF.
 */
const char *invariant_exercise(struct shmslab *slab, char *buf, size_t len);

#endif /* SHMSLAB_TEST_INVARIANT_H */
