/* SPDX-License-Identifier: MIT */
/*
 * Atomic operations on shared memory, each helper naming its memory order, so
 * that every call site says which ordering it relies on and why.  Nothing here
 * may fall back to a lock: a libatomic lock lives in one process's memory and
 * would not exclude another process, hence the static assertions.
 */
#ifndef SHMSLAB_ATOMICS_H
#define SHMSLAB_ATOMICS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

_Static_assert(ATOMIC_INT_LOCK_FREE == 2, "32-bit atomics must be lock-free");
_Static_assert(ATOMIC_LLONG_LOCK_FREE == 2, "64-bit atomics must be lock-free");
_Static_assert(sizeof(_Atomic uint64_t) == 8, "64-bit atomics must be plain words");
_Static_assert(sizeof(_Atomic uint32_t) == 4, "32-bit atomics must be plain words");

#define SA_DEFINE(T, W)                                                                    \
	static inline T sa_load_relaxed_##W(const _Atomic T *p)                            \
	{                                                                                  \
		return atomic_load_explicit(p, memory_order_relaxed);                      \
	}                                                                                  \
	static inline T sa_load_acquire_##W(const _Atomic T *p)                            \
	{                                                                                  \
		return atomic_load_explicit(p, memory_order_acquire);                      \
	}                                                                                  \
	static inline T sa_load_seq_cst_##W(const _Atomic T *p)                            \
	{                                                                                  \
		return atomic_load_explicit(p, memory_order_seq_cst);                      \
	}                                                                                  \
	static inline void sa_store_relaxed_##W(_Atomic T *p, T v)                         \
	{                                                                                  \
		atomic_store_explicit(p, v, memory_order_relaxed);                         \
	}                                                                                  \
	static inline void sa_store_release_##W(_Atomic T *p, T v)                         \
	{                                                                                  \
		atomic_store_explicit(p, v, memory_order_release);                         \
	}                                                                                  \
	/* Strong CAS; on failure *expected gets the current value, read with acquire. */  \
	static inline bool sa_cas_acq_rel_##W(_Atomic T *p, T *expected, T desired)        \
	{                                                                                  \
		return atomic_compare_exchange_strong_explicit(                            \
			p, expected, desired, memory_order_acq_rel, memory_order_acquire); \
	}                                                                                  \
	/* Weak CAS for a loop that retries anyway: it may fail spuriously. */             \
	static inline bool sa_cas_weak_acq_rel_##W(_Atomic T *p, T *expected, T desired)   \
	{                                                                                  \
		return atomic_compare_exchange_weak_explicit(                              \
			p, expected, desired, memory_order_acq_rel, memory_order_acquire); \
	}                                                                                  \
	/* Strong CAS that only publishes: release on success, relaxed on failure. */      \
	static inline bool sa_cas_release_##W(_Atomic T *p, T *expected, T desired)        \
	{                                                                                  \
		return atomic_compare_exchange_strong_explicit(                            \
			p, expected, desired, memory_order_release, memory_order_relaxed); \
	}                                                                                  \
	static inline bool sa_cas_weak_release_##W(_Atomic T *p, T *expected, T desired)   \
	{                                                                                  \
		return atomic_compare_exchange_weak_explicit(                              \
			p, expected, desired, memory_order_release, memory_order_relaxed); \
	}                                                                                  \
	/* Strong CAS that is also a full fence: for store-then-load (Dekker) patterns. */ \
	static inline bool sa_cas_seq_cst_##W(_Atomic T *p, T *expected, T desired)        \
	{                                                                                  \
		return atomic_compare_exchange_strong_explicit(                            \
			p, expected, desired, memory_order_seq_cst, memory_order_seq_cst); \
	}                                                                                  \
	static inline bool sa_cas_weak_seq_cst_##W(_Atomic T *p, T *expected, T desired)   \
	{                                                                                  \
		return atomic_compare_exchange_weak_explicit(                              \
			p, expected, desired, memory_order_seq_cst, memory_order_seq_cst); \
	}                                                                                  \
	static inline T sa_exchange_acq_rel_##W(_Atomic T *p, T v)                         \
	{                                                                                  \
		return atomic_exchange_explicit(p, v, memory_order_acq_rel);               \
	}                                                                                  \
	static inline T sa_exchange_seq_cst_##W(_Atomic T *p, T v)                         \
	{                                                                                  \
		return atomic_exchange_explicit(p, v, memory_order_seq_cst);               \
	}                                                                                  \
	static inline T sa_fetch_or_acquire_##W(_Atomic T *p, T v)                         \
	{                                                                                  \
		return atomic_fetch_or_explicit(p, v, memory_order_acquire);               \
	}                                                                                  \
	static inline T sa_fetch_or_seq_cst_##W(_Atomic T *p, T v)                         \
	{                                                                                  \
		return atomic_fetch_or_explicit(p, v, memory_order_seq_cst);               \
	}                                                                                  \
	static inline T sa_fetch_and_release_##W(_Atomic T *p, T v)                        \
	{                                                                                  \
		return atomic_fetch_and_explicit(p, v, memory_order_release);              \
	}                                                                                  \
	static inline T sa_fetch_and_acq_rel_##W(_Atomic T *p, T v)                        \
	{                                                                                  \
		return atomic_fetch_and_explicit(p, v, memory_order_acq_rel);              \
	}                                                                                  \
	static inline T sa_fetch_and_seq_cst_##W(_Atomic T *p, T v)                        \
	{                                                                                  \
		return atomic_fetch_and_explicit(p, v, memory_order_seq_cst);              \
	}                                                                                  \
	static inline T sa_fetch_add_seq_cst_##W(_Atomic T *p, T v)                        \
	{                                                                                  \
		return atomic_fetch_add_explicit(p, v, memory_order_seq_cst);              \
	}                                                                                  \
	static inline T sa_fetch_sub_relaxed_##W(_Atomic T *p, T v)                        \
	{                                                                                  \
		return atomic_fetch_sub_explicit(p, v, memory_order_relaxed);              \
	}                                                                                  \
	static inline T sa_fetch_add_relaxed_##W(_Atomic T *p, T v)                        \
	{                                                                                  \
		return atomic_fetch_add_explicit(p, v, memory_order_relaxed);              \
	}

SA_DEFINE(uint32_t, u32)
SA_DEFINE(uint64_t, u64)
SA_DEFINE(uintptr_t, uptr)

#undef SA_DEFINE

/* A full fence, for the rare slow paths that need store-load ordering. */
static inline void sa_fence_seq_cst(void)
{
	atomic_thread_fence(memory_order_seq_cst);
}

/*
 * A fence for the compiler only: with membarrier() on the other side of a
 * handshake, the hardware fence is the other side's to pay.
 */
static inline void sa_fence_compiler(void)
{
	atomic_signal_fence(memory_order_seq_cst);
}

/* A hint to the core that this is a spin-wait loop. */
static inline void sa_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield" ::: "memory");
#endif
}

#endif /* SHMSLAB_ATOMICS_H */
