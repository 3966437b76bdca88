/* SPDX-License-Identifier: MIT */
/*
 * The operating-system layer: POSIX shared memory objects, mappings, futexes,
 * byte-range locks and the current CPU.  Everything above it reads without
 * #ifdefs and without errno: each function answers 0 or a negative errno.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <linux/futex.h>
#include <linux/membarrier.h>
#include <sched.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "killpoints.h"
#include "os.h"
#include "shmslab.h"

int shmslab__name_check(const char *name)
{
	size_t len;

	if (name == NULL || name[0] != '/')
		return -EINVAL;
	len = strnlen(name, NAME_MAX + 2);
	/* the leading '/' is not part of the NAME_MAX bytes of the object name */
	if (len < 2 || len > NAME_MAX + 1)
		return -EINVAL;
	if (strchr(name + 1, '/') != NULL)
		return -EINVAL;
	if (strcmp(name, "/.") == 0 || strcmp(name, "/..") == 0)
		return -EINVAL;
	return 0;
}

int shmslab__os_shm_create(const char *name, mode_t mode, int *fd)
{
	int f = shm_open(name, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, mode);

	if (f < 0)
		return -errno;
	/* shm_open applies the umask; the caller asked for exactly these bits */
	if (fchmod(f, mode) != 0) {
		int err = -errno;

		shmslab__os_shm_unlink_own(name, f);
		close(f);
		return err;
	}
	*fd = f;
	return 0;
}

/*
 * Open the object NAME.  Anyone may put a FIFO or a device at the name, and
 * opening a FIFO blocks until it has a writer: open without blocking, then
 * refuse anything but a regular object (SHMSLAB_EFORMAT), whose descriptor
 * goes back to blocking mode, for the locks that wait.
 */
int shmslab__os_shm_open(const char *name, bool writable, int *fd)
{
	struct stat st;
	int f = shm_open(name, (writable ? O_RDWR : O_RDONLY) | O_CLOEXEC | O_NONBLOCK, 0);
	int err = 0;

	if (f < 0)
		return -errno;
	if (fstat(f, &st) != 0)
		err = -errno;
	else if (!S_ISREG(st.st_mode))
		err = SHMSLAB_EFORMAT;
	else if (fcntl(f, F_SETFL, fcntl(f, F_GETFL) & ~O_NONBLOCK) != 0)
		err = -errno;
	if (err) {
		close(f);
		return err;
	}
	*fd = f;
	return 0;
}

int shmslab__os_shm_unlink(const char *name)
{
	return shm_unlink(name) == 0 ? 0 : -errno;
}

/* Remove NAME if it still names the object open as FD, and not another's since. */
void shmslab__os_shm_unlink_own(const char *name, int fd)
{
	int other = -1;

	if (shmslab__os_shm_open(name, false, &other) != 0)
		return;
	if (shmslab__os_same_file(fd, other) == 0)
		shm_unlink(name);
	close(other);
}

int shmslab__os_file_size(int fd, uint64_t *size)
{
	struct stat st;

	if (fstat(fd, &st) != 0)
		return -errno;
	if (!S_ISREG(st.st_mode) || st.st_size < 0)
		return SHMSLAB_EFORMAT;
	*size = (uint64_t)st.st_size;
	return 0;
}

/*
 * Grow the object to SIZE bytes with memory behind every page: a full
 * /dev/shm then fails here with ENOSPC instead of raising SIGBUS later, at the
 * first touch of a page, in whichever process touches it.
 */
int shmslab__os_reserve(int fd, uint64_t size)
{
	sigset_t xfsz, old, pending;
	bool was_pending;
	int err;

	if (size > (uint64_t)INT64_MAX)
		return -EFBIG;
	/*
	 * Past RLIMIT_FSIZE the kernel answers EFBIG and also sends this thread
	 * SIGXFSZ, whose default action kills the process.  Hold the signal off
	 * and take back the one our call raised, so that the caller gets -EFBIG
	 * and the program's own disposition and pending signals stay as they were.
	 */
	sigemptyset(&xfsz);
	sigaddset(&xfsz, SIGXFSZ);
	pthread_sigmask(SIG_BLOCK, &xfsz, &old);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGXFSZ) == 1;
	do
		err = posix_fallocate(fd, 0, (off_t)size);
	while (err == EINTR);
	if (err == EFBIG && !was_pending) {
		const struct timespec now = { 0, 0 };

		sigtimedwait(&xfsz, NULL, &now);
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -err;
}

/*
 * A descriptor held in reserve, so that clean-up which must open one more
 * (to check a name before removing it) can, even at the descriptor limit.
 */
int shmslab__os_spare_fd(void)
{
	int f = eventfd(0, EFD_CLOEXEC);

	return f >= 0 ? f : -errno;
}

void shmslab__os_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Write all of BUF at offset OFF, extending the object as needed. */
int shmslab__os_write_at(int fd, const void *buf, size_t len, uint64_t off)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = pwrite(fd, p, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/*
 * Hold off pthread_cancel while a call holds a lock of its own or is half
 * way through a change: some system calls it makes (fcntl's waits, open,
 * read, close, sigtimedwait) are cancellation points.
 */
void shmslab__os_cancel_off(int *old)
{
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, old);
}

void shmslab__os_cancel_restore(int old)
{
	pthread_setcancelstate(old, NULL);
}

int shmslab__os_map(int fd, uint64_t off, uint64_t len, bool writable, void **out)
{
	void *p;

	if (len > SIZE_MAX || off > (uint64_t)INT64_MAX)
		return -ENOMEM;
	p = mmap(NULL, (size_t)len, writable ? PROT_READ | PROT_WRITE : PROT_READ,
		 MAP_SHARED | MAP_NORESERVE, fd, (off_t)off);
	if (p == MAP_FAILED)
		return -errno;
	/* a fork child may not use the segment through us: it gets none of it,
	 * and so holds nothing of the open file it maps, nor its locks */
	madvise(p, (size_t)len, MADV_DONTFORK);
	*out = p;
	return 0;
}

void shmslab__os_unmap(void *addr, uint64_t len)
{
	if (addr != NULL)
		munmap(addr, (size_t)len);
}

/*
 * Sleep while *word == expected, at most timeout_ms (-1: no limit).  The
 * futex is not FUTEX_PRIVATE: its waiters and wakers are other processes.
 * Answers 0 when woken or when the word had already changed, -ETIMEDOUT,
 * or -EINTR when a signal handler ran.
 */
int shmslab__os_futex_wait(_Atomic uint32_t *word, uint32_t expected, int timeout_ms)
{
	struct timespec ts, *tsp = NULL;

	if (timeout_ms >= 0) {
		ts.tv_sec = timeout_ms / 1000;
		ts.tv_nsec = (long)(timeout_ms % 1000) * 1000000L;
		tsp = &ts;
	}
	if (syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, tsp, NULL, 0) == 0)
		return 0;
	return errno == ETIMEDOUT || errno == EINTR ? -errno : 0;
}

/*
 * The same wait as a cancellation point: a pthread_cancel that comes while
 * it sleeps takes effect at once (as glibc's own blocking calls do, by
 * switching to asynchronous cancellation for the system call alone), one
 * that came before, as the wait begins.  The caller has pushed the clean-up
 * that undoes what it did before sleeping.
 */
int shmslab__os_futex_wait_cancellable(_Atomic uint32_t *word, uint32_t expected, int timeout_ms)
{
	int type, err;

	pthread_setcanceltype(PTHREAD_CANCEL_ASYNCHRONOUS, &type);
	err = shmslab__os_futex_wait(word, expected, timeout_ms);
	pthread_setcanceltype(type, NULL);
	return err;
}

void shmslab__os_futex_wake(_Atomic uint32_t *word)
{
	syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

/* A request for a write lock (TYPE: or its release, F_UNLCK) on one byte. */
static struct flock byte_request(short type, uint64_t byte)
{
	struct flock fl;

	memset(&fl, 0, sizeof(fl));
	fl.l_type = type;
	fl.l_whence = SEEK_SET;
	fl.l_start = (off_t)byte;
	fl.l_len = 1;
	return fl;
}

/*
 * Take an open-file-description write lock on one byte of the segment.  The
 * kernel drops it when the open file goes away, whichever way the process
 * ends, so it proves the holder is alive without trusting a pid.  A mapping
 * keeps its open file alive too, so FD must be one that is never mapped.
 * -EAGAIN when another open file holds the byte.
 */
int shmslab__os_lock_byte(int fd, uint64_t byte)
{
	struct flock fl = byte_request(F_WRLCK, byte);

	if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
		return 0;
	return (errno == EACCES || errno == EAGAIN) ? -EAGAIN : -errno;
}

/* Whether another open file holds a lock on BYTE: 1 or 0, or a negative errno. */
int shmslab__os_byte_locked(int fd, uint64_t byte)
{
	struct flock fl = byte_request(F_WRLCK, byte);

	if (fcntl(fd, F_OFD_GETLK, &fl) != 0)
		return -errno;
	return fl.l_type != F_UNLCK;
}

/*
 * Kernels before 3.15 have no OFD locks.  There, the recovery and growth
 * locks fall back to classic record locks, which also die with their holder
 * but belong to the process, not the open file (callers add a mutex for
 * their threads), and which any close of the segment in the process drops.
 */
static _Atomic uint32_t ofd_missing; /* 1 once F_OFD_SETLKW was refused */

static int lock_cmd(bool wait)
{
	/* relaxed: a flag on its own; a stale 0 only costs one refused call */
	if (sa_load_relaxed_u32(&ofd_missing))
		return wait ? F_SETLKW : F_SETLK;
	return wait ? F_OFD_SETLKW : F_OFD_SETLK;
}

/* Take the lock on BYTE, sleeping in the kernel until its holder lets go or dies. */
int shmslab__os_lock_byte_wait(int fd, uint64_t byte)
{
	struct flock fl = byte_request(F_WRLCK, byte);

	while (fcntl(fd, lock_cmd(true), &fl) != 0) {
		/* relaxed: as in lock_cmd */
		if (errno == EINVAL && !sa_load_relaxed_u32(&ofd_missing)) {
			/* relaxed: as in lock_cmd */
			sa_store_relaxed_u32(&ofd_missing, 1);
			continue;
		}
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

void shmslab__os_unlock_byte(int fd, uint64_t byte)
{
	struct flock fl = byte_request(F_UNLCK, byte);

	fcntl(fd, lock_cmd(false), &fl);
}

/*
 * The start time of process PID, in clock ticks since boot (field 22 of
 * /proc/PID/stat): with the pid, it names one process, even after the pid is
 * reused.  -ESRCH when there is no such process.
 */
int shmslab__os_pid_start(pid_t pid, uint64_t *start)
{
	char path[48], buf[1024], *p;
	ssize_t n;
	int fd, field;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? -ESRCH : -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -ESRCH;
	buf[n] = '\0';
	/* the command name may hold spaces and parentheses: count from the last ')' */
	p = strrchr(buf, ')');
	if (p == NULL)
		return -ESRCH;
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -ESRCH;
	*start = strtoull(p + 1, NULL, 10);
	return 0;
}

/* 0 if both descriptors are the same object; -ENOENT if the name was replaced. */
int shmslab__os_same_file(int fd1, int fd2)
{
	struct stat a, b;

	if (fstat(fd1, &a) != 0 || fstat(fd2, &b) != 0)
		return -errno;
	return a.st_dev == b.st_dev && a.st_ino == b.st_ino ? 0 : -ENOENT;
}

static int membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0) == 0 ? 0 : -errno;
}

/*
 * Full fences run for us on every other thread of this process
 * (shmslab__os_barrier_private) from now on, or -errno (-ENOSYS, -EPERM
 * under a filter) where we cannot have them.
 */
int shmslab__os_barrier_private_register(void)
{
	return membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED);
}

/* A full fence on every running thread of this process; 0 or -errno. */
int shmslab__os_barrier_private(void)
{
	return membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED);
}

/*
 * This process's threads take part in shmslab__os_barrier_global from now
 * on (registration covers threads started later); 0 or -errno.
 */
int shmslab__os_barrier_global_register(void)
{
	return membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
}

/*
 * A full fence on every running thread of every process that registered
 * (above): by IPI where the kernel can, else by waiting for every CPU to
 * pass through the scheduler, which covers every process but takes
 * milliseconds.  0 or -errno.
 */
int shmslab__os_barrier_global(void)
{
	return membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) == 0 ? 0 : membarrier(MEMBARRIER_CMD_GLOBAL);
}

/* The CPU, when glibc has no rseq area for this thread. */
uint32_t shmslab__os_cpu_slow(void)
{
	int cpu = sched_getcpu();

	return cpu < 0 ? 0 : (uint32_t)cpu;
}

uint64_t shmslab__os_realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Back off in a CAS loop that lost a race: spin briefly, then give the CPU
 * away, because these machines run more processes than they have cores and
 * the winner may be waiting for ours.
 */
void shmslab__os_backoff(unsigned *round)
{
	unsigned r = *round;

	if (r < 6) {
		for (unsigned i = 0; i < (1u << r); i++)
			sa_cpu_relax(); /* a spin-wait hint: no atomic, orders nothing */
	} else {
		sched_yield();
	}
	if (r < 16)
		*round = r + 1;
}

uint32_t shmslab__os_page_size(void)
{
	long ps = sysconf(_SC_PAGESIZE);

	return ps > 0 ? (uint32_t)ps : 4096u;
}

uint32_t shmslab__os_cpu_count(void)
{
	long n = sysconf(_SC_NPROCESSORS_CONF);

	return n > 0 ? (uint32_t)n : 1u;
}

#ifdef SHMSLAB_KILLPOINTS
static const char *killpoint_wanted;
static _Atomic uint32_t killpoint_countdown;
static pthread_once_t killpoint_once = PTHREAD_ONCE_INIT;

/* SHMSLAB_KILLPOINT=name, or name:N to die at the Nth time the point is met. */
static void killpoint_load(void)
{
	static char name[64];
	const char *env = getenv("SHMSLAB_KILLPOINT");
	const char *colon;

	if (env == NULL)
		return;
	snprintf(name, sizeof(name), "%s", env);
	colon = strchr(env, ':');
	if (colon != NULL && (size_t)(colon - env) < sizeof(name))
		name[colon - env] = '\0';
	/* relaxed: pthread_once publishes it to every thread that meets a point */
	sa_store_relaxed_u32(&killpoint_countdown, colon != NULL ? (uint32_t)atol(colon + 1) : 1);
	killpoint_wanted = name;
}

void shmslab__killpoint(const char *name)
{
	pthread_once(&killpoint_once, killpoint_load);
	if (killpoint_wanted != NULL && strcmp(killpoint_wanted, name) == 0 &&
	    /* relaxed: a count of meetings, ordering nothing */
	    sa_fetch_sub_relaxed_u32(&killpoint_countdown, 1) == 1)
		raise(SIGKILL);
}
#endif
