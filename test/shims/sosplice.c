/* SO_SPLICE of FreeBSD (15 and later) and OpenBSD on Linux, for shim
 * builds: a thread per splice moves the source's bytes to the drain, as
 * those kernels do with no thread at all. Test code: never shipped.
 *
 * Models, from sosplice(9), OpenBSD's setsockopt(2) and FreeBSD's
 * tests/sys/kern/socket_splice.c:
 * - setsockopt(source, SOL_SOCKET, SO_SPLICE, &struct splice, sizeof) with
 *   the drain in sp_fd (or an int, OpenBSD's first form), at most sp_max
 *   bytes (0: no limit), dissolved after sp_idle without a byte.
 * - Checks: EBADF for a drain that is not open; ENOTSOCK for one that is
 *   not a socket; EPROTONOSUPPORT for a socket that is not TCP (a Unix
 *   one); EINVAL for a listening socket (FreeBSD; OpenBSD says
 *   EOPNOTSUPP) and for a negative sp_max; ENOTCONN for a socket that is
 *   not connected; EBUSY when the source is the source of a splice
 *   already, or the drain the drain of one (each may be the other way's). sp_fd -1 dissolves the source's splice; ENOTCONN when it
 *   has none.
 * - The bytes in the source's receive buffer move at once, then every byte
 *   that arrives, in order, until the splice dissolves: at the source's end
 *   of stream (which stays readable: a read says 0), at sp_max bytes (the
 *   next byte stays at the source), after sp_idle (ETIMEDOUT), at a read
 *   error of the source (that error), or at a write error of the drain
 *   (EPIPE, or the drain's error), each error set on the source for
 *   getsockopt(SO_ERROR), which reads and clears it.
 * - getsockopt(source, SO_SPLICE): the bytes the current or last splice
 *   moved, an off_t; 0 for a socket never spliced. A new splice starts the
 *   count again.
 * - A spliced source is not readable to kqueue until the splice dissolves
 *   (FreeBSD's splice_kevent): test/shims/kqueue.c asks
 *   zc_shim_spliced_source, and a dissolution wakes its waits; nor to
 *   poll(2), renamed for the mover as setsockopt is (a poll that waits
 *   is not woken at the dissolution: the mover only polls without
 *   waiting).
 * - ZEROCOPY_SHIM_REFUSE (shim.h): setsockopt fails with ENOPROTOOPT, as a
 *   kernel without SO_SPLICE (FreeBSD before 15) does, after the checks.
 * - Faults (ZEROCOPY_SHIM_FAULTS): a splice may dissolve after any chunk,
 *   with no error and no end of stream: OpenBSD's short splice, after
 *   which "a second call ... will transfer the remaining data".
 *
 * Simpler than the real systems: the thread moves up to 64 KiB at a time
 * through user space (peeked, sent, then taken from the source as far as
 * the drain took it, so that nothing undelivered leaves the source); it works on duplicates of the two descriptors, so a
 * splice whose sockets are closed without dissolving it goes on (the
 * kernels end it: callers here always dissolve first); the kernel's own
 * wake-ups of select and poll on the source are not modelled, only
 * kqueue's; out-of-band data, SO_SPLICE on UDP and loop detection (ELOOP)
 * are not modelled. */
#define _GNU_SOURCE
#define ZEROCOPY_SHIM_SOSPLICE_IMPL
#include "sosplice.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readiness.h"
#include "shim.h"

typedef struct run {
  int source, drain;      /* the caller's numbers, for lookups */
  dev_t dev;              /* what `source` named when spliced */
  ino_t ino;
  int src, dst;           /* the thread's own duplicates */
  int stop;               /* an eventfd: dissolve now */
  uint64_t max;           /* 0: no limit */
  int idle_ms;            /* -1: none */
  atomic_ullong moved;
  atomic_int active;      /* moving; 0 once dissolved */
  int error;              /* for SO_ERROR, once dissolved; guarded by mu */
  int joined;
  pthread_t thread;
  struct run *next;
} run;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static run *runs; /* every splice made, the latest first */

static int same_file(int fd, dev_t dev, ino_t ino) {
  struct stat st;
  return fstat(fd, &st) == 0 && st.st_dev == dev && st.st_ino == ino;
}

/* The latest run whose source is fd (and still the same socket); mu held. */
static run *run_of(int fd) {
  for (run *r = runs; r; r = r->next)
    if (r->source == fd && same_file(fd, r->dev, r->ino)) return r;
  return NULL;
}

/* Whether fd is the source (as_drain 0) or the drain (1) of an active
 * run: a socket is spliced one way at most, and may be the drain of the
 * splice the other way; mu held. */
static int busy(int fd, int as_drain) {
  struct stat st;
  if (fstat(fd, &st) != 0) return 0;
  for (run *r = runs; r; r = r->next) {
    if (!atomic_load(&r->active)) continue;
    if (!as_drain && r->source == fd && r->dev == st.st_dev && r->ino == st.st_ino) return 1;
    if (as_drain && r->drain == fd && same_file(r->dst, st.st_dev, st.st_ino)) return 1;
  }
  return 0;
}

int zc_shim_spliced_source(int fd) {
  pthread_mutex_lock(&mu);
  run *r = run_of(fd);
  int spliced = r && atomic_load(&r->active);
  pthread_mutex_unlock(&mu);
  return spliced;
}

/* Moves what the source holds, up to `want` bytes, to the drain: peeked,
 * sent, then taken from the source as far as the drain took it, so that a
 * splice dissolved at any moment leaves what it did not deliver in the
 * source, as the kernels do. The bytes are counted as they go, before the
 * peer can read them; what did not go is taken back. Returns the bytes
 * moved (0 at the source's end of stream), or -1 with *err (EAGAIN: no
 * byte to read, or no room in the drain). */
static ssize_t move_once(run *r, char *chunk, size_t want, int *err) {
  ssize_t got = recv(r->src, chunk, want, MSG_PEEK | MSG_DONTWAIT);
  if (got <= 0) {
    *err = got < 0 ? errno : 0;
    return got < 0 ? -1 : 0;
  }
  atomic_fetch_add(&r->moved, (uint64_t)got);
  ssize_t sent = send(r->dst, chunk, (size_t)got, MSG_NOSIGNAL | MSG_DONTWAIT);
  int send_err = sent < 0 ? errno : 0;
  if (sent < 0) sent = 0;
  atomic_fetch_sub(&r->moved, (uint64_t)(got - sent));
  if (sent > 0) (void)!recv(r->src, chunk, (size_t)sent, MSG_DONTWAIT);
  if (sent > 0) return sent;
  *err = send_err == 0 ? EAGAIN : send_err;
  return -1;
}

static void *move_bytes(void *arg) {
  run *r = arg;
  char *chunk = malloc(64 * 1024);
  int error = 0;
  short wait = POLLIN; /* the source's bytes, or the drain's room */
  for (;;) {
    uint64_t moved = atomic_load(&r->moved);
    if (r->max && moved >= r->max) break; /* the limit: the next byte stays */
    struct pollfd p[2] = {{.fd = wait == POLLIN ? r->src : r->dst, .events = wait}, {.fd = r->stop, .events = POLLIN}};
    int n = poll(p, 2, wait == POLLIN ? r->idle_ms : -1);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      error = errno;
      break;
    }
    if (p[1].revents) break; /* asked to dissolve */
    if (n == 0) {
      error = ETIMEDOUT;
      break;
    }
    size_t want = 64 * 1024;
    if (r->max && r->max - moved < want) want = (size_t)(r->max - moved);
    int err = 0;
    ssize_t got = move_once(r, chunk, want, &err);
    if (got == 0) break; /* the end of stream: dissolved, still readable */
    if (got < 0 && err == EINTR) continue;
    if (got < 0 && err == EAGAIN) {
      /* Nothing to read after all, or no room in the drain: which one. */
      char byte;
      wait = recv(r->src, &byte, 1, MSG_PEEK | MSG_DONTWAIT) > 0 ? POLLOUT : POLLIN;
      continue;
    }
    if (got < 0) {
      error = err;
      break;
    }
    wait = POLLIN;
    uint64_t roll = shim_fault_roll();
    if (roll != 0 && roll % 5 == 0) break; /* a short splice */
  }
  free(chunk);
  pthread_mutex_lock(&mu);
  r->error = error;
  atomic_store(&r->active, 0);
  pthread_mutex_unlock(&mu);
  close(r->src);
  close(r->dst);
  /* Readable again: a kqueue wait on the source must look. */
  shim_instance_signal_all();
  return NULL;
}

/* The checks of a socket to splice: 0 or the errno the manuals give. */
static int check_socket(int fd) {
  struct stat st;
  if (fcntl(fd, F_GETFD) < 0) return EBADF;
  if (fstat(fd, &st) != 0) return EBADF;
  if (!S_ISSOCK(st.st_mode)) return ENOTSOCK;
  int type = 0, listening = 0;
  socklen_t len = sizeof type;
  struct sockaddr_storage addr;
  socklen_t alen = sizeof addr;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) != 0 || getsockname(fd, (struct sockaddr *)&addr, &alen) != 0) return errno;
  if (type != SOCK_STREAM || (addr.ss_family != AF_INET && addr.ss_family != AF_INET6)) return EPROTONOSUPPORT;
  len = sizeof listening;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) == 0 && listening) return EINVAL;
  alen = sizeof addr;
  return getpeername(fd, (struct sockaddr *)&addr, &alen) == 0 ? 0 : ENOTCONN;
}

/* Stops a run and waits for its thread; mu not held. */
static void finish(run *r) {
  uint64_t one = 1;
  (void)!write(r->stop, &one, sizeof one);
  pthread_mutex_lock(&mu);
  int join = !r->joined;
  r->joined = 1;
  pthread_mutex_unlock(&mu);
  if (join) pthread_join(r->thread, NULL);
}

/* Forgets the runs that are over and will not be asked about again: their
 * source now names another file, or a newer run has the same source. */
static void prune(void) {
  run *gone = NULL;
  pthread_mutex_lock(&mu);
  for (run **p = &runs; *p;) {
    run *r = *p;
    int superseded = 0;
    for (run *newer = runs; newer != r; newer = newer->next)
      if (newer->source == r->source && newer->dev == r->dev && newer->ino == r->ino) superseded = 1;
    if (!atomic_load(&r->active) && (superseded || !same_file(r->source, r->dev, r->ino))) {
      *p = r->next;
      r->next = gone;
      gone = r;
    } else {
      p = &r->next;
    }
  }
  pthread_mutex_unlock(&mu);
  while (gone) {
    run *r = gone;
    gone = r->next;
    if (!r->joined) pthread_join(r->thread, NULL);
    close(r->stop);
    free(r);
  }
}

static int splice_on(int source, const struct splice *sp) {
  int err = check_socket(source);
  if (err != 0) return err;
  if (sp->sp_fd < 0) {
    pthread_mutex_lock(&mu);
    run *r = run_of(source);
    int active = r && atomic_load(&r->active);
    pthread_mutex_unlock(&mu);
    if (!active) return ENOTCONN;
    finish(r);
    /* Dissolved when asked: no error for SO_ERROR. */
    pthread_mutex_lock(&mu);
    r->error = 0;
    pthread_mutex_unlock(&mu);
    return 0;
  }
  if (sp->sp_max < 0) return EINVAL;
  if ((err = check_socket(sp->sp_fd)) != 0) return err;
  if ((err = shim_refusal()) != 0) return ENOPROTOOPT;
  prune();
  run *r = calloc(1, sizeof *r);
  if (!r) return ENOMEM;
  struct stat st;
  fstat(source, &st);
  *r = (run){.source = source, .drain = sp->sp_fd, .dev = st.st_dev, .ino = st.st_ino, .max = (uint64_t)sp->sp_max};
  long ms = (long)sp->sp_idle.tv_sec * 1000 + (sp->sp_idle.tv_usec + 999) / 1000;
  r->idle_ms = ms > 0 ? (int)ms : -1;
  pthread_mutex_lock(&mu);
  if (busy(source, 0) || busy(sp->sp_fd, 1)) err = EBUSY;
  if (err == 0) {
    r->src = fcntl(source, F_DUPFD_CLOEXEC, 0);
    r->dst = fcntl(sp->sp_fd, F_DUPFD_CLOEXEC, 0);
    r->stop = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (r->src < 0 || r->dst < 0 || r->stop < 0) err = errno;
  }
  if (err == 0) {
    atomic_store(&r->active, 1);
    if (pthread_create(&r->thread, NULL, move_bytes, r) != 0) {
      err = EAGAIN;
      atomic_store(&r->active, 0);
    }
  }
  if (err == 0) {
    r->next = runs;
    runs = r;
  }
  pthread_mutex_unlock(&mu);
  if (err != 0) {
    if (r->src > 0) close(r->src);
    if (r->dst > 0) close(r->dst);
    if (r->stop > 0) close(r->stop);
    free(r);
  }
  return err;
}

int zc_shim_poll(struct pollfd *fds, nfds_t n, int timeout) {
  int ready = poll(fds, n, timeout);
  if (ready <= 0) return ready;
  for (nfds_t i = 0; i < n; i++) {
    if (!(fds[i].revents & POLLIN) || !zc_shim_spliced_source(fds[i].fd)) continue;
    fds[i].revents &= (short)~(POLLIN | POLLRDNORM);
    if (fds[i].revents == 0) ready--;
  }
  return ready;
}

int zc_shim_setsockopt(int fd, int level, int name, const void *value, socklen_t len) {
  if (level != SOL_SOCKET || name != SO_SPLICE) return setsockopt(fd, level, name, value, len);
  struct splice sp = {.sp_fd = -1};
  if (len == sizeof(int)) sp.sp_fd = *(const int *)value;
  else if (len == sizeof sp) sp = *(const struct splice *)value;
  else {
    errno = EINVAL;
    return -1;
  }
  int err = splice_on(fd, &sp);
  if (err == 0) return 0;
  errno = err;
  return -1;
}

int zc_shim_getsockopt(int fd, int level, int name, void *value, socklen_t *len) {
  if (level == SOL_SOCKET && name == SO_SPLICE) {
    if (*len < sizeof(off_t)) {
      errno = EINVAL;
      return -1;
    }
    pthread_mutex_lock(&mu);
    run *r = run_of(fd);
    off_t n = r ? (off_t)atomic_load(&r->moved) : 0;
    pthread_mutex_unlock(&mu);
    *(off_t *)value = n;
    *len = sizeof n;
    return 0;
  }
  if (level == SOL_SOCKET && name == SO_ERROR && *len >= sizeof(int)) {
    /* A dissolved splice's error, once; then the socket's own. */
    pthread_mutex_lock(&mu);
    run *r = run_of(fd);
    int err = 0;
    if (r && !atomic_load(&r->active) && r->error != 0) {
      err = r->error;
      r->error = 0;
    }
    pthread_mutex_unlock(&mu);
    if (err != 0) {
      *(int *)value = err;
      *len = sizeof err;
      return 0;
    }
  }
  return getsockopt(fd, level, name, value, len);
}
