/* SPDX-License-Identifier: MIT */
/*
 * The operating-system layer (os.c), as mimalloc's prim.h: POSIX shared
 * memory objects, mappings, futexes, byte-range locks, signals around the
 * calls that raise them, cancellation, the current CPU, fences run on other
 * threads (membarrier), and the clock.  It knows nothing of segments: the
 * layers above read without #ifdefs and without errno, since every function
 * answers 0 or a negative errno.
 */
#ifndef SHMSLAB_OS_H
#define SHMSLAB_OS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "atomics.h"

int shmslab__name_check(const char *name);
int shmslab__os_shm_create(const char *name, mode_t mode, int *fd);
int shmslab__os_shm_open(const char *name, bool writable, int *fd);
int shmslab__os_shm_unlink(const char *name);
void shmslab__os_shm_unlink_own(const char *name, int fd);
int shmslab__os_file_size(int fd, uint64_t *size);
int shmslab__os_reserve(int fd, uint64_t size);
int shmslab__os_spare_fd(void);
void shmslab__os_close(int fd);
int shmslab__os_write_at(int fd, const void *buf, size_t len, uint64_t off);
void shmslab__os_cancel_off(int *old);
void shmslab__os_cancel_restore(int old);
int shmslab__os_map(int fd, uint64_t off, uint64_t len, bool writable, void **out);
void shmslab__os_unmap(void *addr, uint64_t len);
int shmslab__os_futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms);
int shmslab__os_futex_wait_cancellable(_Atomic uint32_t *word, uint32_t expected, int timeout_ms);
void shmslab__os_futex_wake(_Atomic uint32_t *word);
int shmslab__os_lock_byte(int fd, uint64_t byte);
int shmslab__os_same_file(int fd1, int fd2);
int shmslab__os_byte_locked(int fd, uint64_t byte);
int shmslab__os_lock_byte_wait(int fd, uint64_t byte);
void shmslab__os_unlock_byte(int fd, uint64_t byte);
int shmslab__os_pid_start(pid_t pid, uint64_t *start);
uint32_t shmslab__os_cpu_slow(void);
int shmslab__os_barrier_private_register(void);
int shmslab__os_barrier_private(void);
int shmslab__os_barrier_global_register(void);
int shmslab__os_barrier_global(void);
uint64_t shmslab__os_realtime_ns(void);
void shmslab__os_backoff(unsigned *round);
uint32_t shmslab__os_page_size(void);
uint32_t shmslab__os_cpu_count(void);

#ifdef HAVE_RSEQ_OFFSET
#include <sys/rseq.h>
#endif
/* The CPU this thread runs on now: a hint for choosing a shard, nothing more. */
static inline uint32_t shmslab__os_cpu(void)
{
#ifdef HAVE_RSEQ_OFFSET
	/* glibc keeps the kernel's rseq area current: one load, no call */
	if (__builtin_expect(__rseq_size > 0, 1)) {
		const struct rseq *rs =
			(const struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
		/* relaxed: a hint; the kernel rewrites it whenever we move */
		int32_t cpu = (int32_t)sa_load_relaxed_u32((const _Atomic uint32_t *)&rs->cpu_id);

		if (cpu >= 0)
			return (uint32_t)cpu;
	}
#endif
	return shmslab__os_cpu_slow();
}

#endif /* SHMSLAB_OS_H */
