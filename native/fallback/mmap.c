/* mmap(2) + write(2): the file is mapped a window at a time (never whole)
 * and written from the mapping, which saves the copy into a user buffer.
 *
 * The classic trap is another process truncating the file: touching the
 * mapping past the new end raises SIGBUS. We never touch it ourselves; the
 * kernel reads it inside write(), where a missing page makes write return
 * short or fail with EFAULT instead: we then write up to the new end and
 * report "truncated".
 *
 * A transfer that asks (t->lease) also takes a read lease where the kernel
 * grants one, so that another process opening the file for writing or
 * truncating it stops the transfer before the file changes under it. Not by
 * default: it costs four fcntl calls and one per step, and while it is held
 * an opener with O_NONBLOCK (coreutils truncate) fails with EAGAIN. */
#define _GNU_SOURCE
#include "../zerocopy.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MMAP_WINDOW (8u << 20)

struct mmap_state {
  void *map;       /* the mapped window of the input */
  uint64_t offset; /* file offset of the window */
  size_t len;
  int lease;       /* 1 while we hold a read lease */
};

#ifdef F_SETLEASE
/* A lease break is announced by a signal, SIGIO unless F_SETSIG names
 * another, and SIGIO would kill the process. We point it at a real-time
 * signal whose handler gives the lease up at once (fcntl is safe in a
 * signal handler): the process breaking it, perhaps our own, waits until
 * we do, and our transfer may be parked waiting for a slow peer. The
 * transfer learns of it at its next step, from F_GETLEASE. */
static int lease_signal;
static pthread_once_t lease_once = PTHREAD_ONCE_INIT;

static void release_lease(int sig, siginfo_t *info, void *ctx) {
  (void)sig, (void)ctx;
  int saved = errno;
  fcntl(info->si_fd, F_SETLEASE, F_UNLCK);
  errno = saved;
}

static void install_lease_signal(void) {
  int sig = SIGRTMIN + 6;
  struct sigaction current;
  /* Someone else's handler: leave their signal alone and go without. */
  if (sigaction(sig, NULL, &current) != 0 || current.sa_handler != SIG_DFL) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = release_lease;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) == 0) lease_signal = sig;
}

int zc_leases_supported(void) {
  pthread_once(&lease_once, install_lease_signal);
  return lease_signal != 0;
}

static void take_lease(zc_transfer *t, struct mmap_state *s) {
  /* The kernel refuses while anyone has the file open for writing, or
   * when we neither own it nor hold CAP_LEASE: we go on without. */
  if (!t->lease || !zc_leases_supported()) return;
  if (fcntl(t->in_fd, F_SETSIG, lease_signal) != 0) return;
  s->lease = fcntl(t->in_fd, F_SETLEASE, F_RDLCK) == 0;
}

/* Broken, or already given up by the signal handler. */
static int lease_broken(zc_transfer *t, struct mmap_state *s) {
  return s->lease && fcntl(t->in_fd, F_GETLEASE) == F_UNLCK;
}

static void drop_lease(zc_transfer *t, struct mmap_state *s) {
  /* Releasing promptly lets the process that broke the lease go on. */
  if (s->lease) fcntl(t->in_fd, F_SETLEASE, F_UNLCK);
  s->lease = 0;
}
#else
int zc_leases_supported(void) { return 0; }
static void take_lease(zc_transfer *t, struct mmap_state *s) { (void)t, (void)s; }
static int lease_broken(zc_transfer *t, struct mmap_state *s) { (void)t, (void)s; return 0; }
static void drop_lease(zc_transfer *t, struct mmap_state *s) { (void)t, (void)s; }
#endif

static void unmap(struct mmap_state *s) {
  if (s->map) munmap(s->map, s->len);
  s->map = NULL;
  s->len = 0;
}

/* Maps the window that holds `offset`, up to the end of the range. */
static int map_window(zc_transfer *t, struct mmap_state *s, uint64_t offset) {
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t start = offset - offset % page;
  uint64_t end = t->offset + t->remaining;
  size_t len = end - start < MMAP_WINDOW ? (size_t)(end - start) : MMAP_WINDOW;
  unmap(s);
  void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, t->in_fd, (off_t)start);
  if (p == MAP_FAILED) return errno;
  s->map = p;
  s->offset = start;
  s->len = len;
  return 0;
}

static int mmap_begin(zc_transfer *t, void *state) {
  if (t->remaining > 0) take_lease(t, state);
  return 0;
}

static void mmap_end(zc_transfer *t, void *state) {
  unmap(state);
  drop_lease(t, state);
}

static void mmap_step(zc_transfer *t, void *state, zc_call *c) {
  struct mmap_state *s = state;
  if (lease_broken(t, s)) {
    /* Another process is about to write or truncate the file: stop before
     * it changes under the transfer. */
    drop_lease(t, s);
    c->err = ZC_ETRUNCATED;
    return;
  }
  if (!s->map || c->offset < s->offset || c->offset >= s->offset + s->len) {
    t->call = "mmap";
    c->err = map_window(t, s, c->offset);
    if (c->err) return;
  }
  size_t at = (size_t)(c->offset - s->offset);
  size_t len = s->len - at;
  if (len > c->file_len) len = (size_t)c->file_len;
  t->call = "write";
  ssize_t n = write(t->out_fd, (char *)s->map + at, len);
  /* EFAULT: the mapping has no page somewhere in what we asked to write,
   * the file ends before it does now (a socket takes nothing from a copy
   * that faults part-way, even when the first pages were still there). */
  if (n < 0 && errno == EFAULT) {
    struct stat st;
    if (fstat(t->in_fd, &st) != 0 || (uint64_t)st.st_size >= c->offset + len) {
      c->err = EFAULT;
      return;
    }
    /* Up to the new end, then (next step, or now if it shrank again)
     * moving nothing without an error, which is how a call says end of
     * file. */
    n = (uint64_t)st.st_size > c->offset ? write(t->out_fd, (char *)s->map + at, (size_t)((uint64_t)st.st_size - c->offset)) : 0;
    if (n < 0 && errno == EFAULT) n = 0;
  }
  zc_set_result(c, n);
}

const zc_backend zc_fallback_mmap = {
    .name = "mmap",
    .zero_copy = 0,
    .outputs = ZC_OUTPUT_ANY,
    .headers_trailers = "copy",
    /* write(2) carries file bytes only. */
    .max_headers = 0,
    .max_trailers = 0,
    .state_size = sizeof(struct mmap_state),
    .begin = mmap_begin,
    .step = mmap_step,
    .end = mmap_end,
};
