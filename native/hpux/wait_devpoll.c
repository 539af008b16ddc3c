/* HP-UX: /dev/poll, poll(7) (Solaris has it too, poll(4D), but its builds
 * use event ports). Writing pollfd entries to an open of /dev/poll adds
 * descriptors to that open's set, POLLREMOVE takes one out, and
 * ioctl(DP_POLL) returns the registered descriptors whose conditions hold.
 *
 * /dev/poll is not one-shot: a writable socket in the set comes back from
 * every DP_POLL. This file gives one report per arming itself: a report
 * disarms the descriptor, and one still disarmed when the next wait begins
 * leaves the set then (POLLREMOVE); arming writes it in again. The driver
 * arms most reported transfers again before its next wait, so the usual
 * cycle of report, step and arm writes nothing to the device.
 *
 * DP_POLL returns descriptors, not user data: a table indexed by
 * descriptor keeps each one's token and state, under a lock, since arming
 * and forgetting may come from another thread than the wait. */
#if !defined(__hpux) && !defined(ZEROCOPY_SHIM)
#error "wait_devpoll.c is the HP-UX waiter: build it there, or against test/shims/devpoll.h (ZEROCOPY_SHIM)"
#endif

#include "../waiter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/devpoll.h>
#include <sys/ioctl.h>
#include <unistd.h>

const char zc_waiter_name[] = "devpoll";

/* Descriptors taken from the device per wait. */
#define BATCH 64

typedef struct slot {
  uint64_t token;
  unsigned char armed;      /* waiting for its one report */
  unsigned char registered; /* in the device's set */
  short events;             /* what it is registered for: POLLOUT, POLLIN */
} slot;

struct zc_waiter {
  int dp;
  int wake[2];
  pthread_mutex_t mu;
  slot *slots; /* by descriptor */
  size_t nslots;
  /* Reported by the last wait and not armed since: the next wait takes
   * those still disarmed out of the set. At most one wait's batch. */
  int reported[BATCH];
  int nreported;
  /* A DP_POLL is in progress: arming and forgetting from another thread
   * wake it, so that it returns and the next one polls the new set. */
  int polling;
};

/* Writes pollfd entries to the device; 0 or an errno. */
static int put(zc_waiter *w, const struct pollfd *entries, int n) {
  ssize_t want = (ssize_t)(n * sizeof *entries);
  ssize_t wrote = write(w->dp, entries, (size_t)want);
  return wrote == want ? 0 : wrote < 0 ? errno : EIO;
}

zc_waiter *zc_waiter_open(void) {
  zc_waiter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  pthread_mutex_init(&w->mu, NULL);
  w->wake[0] = w->wake[1] = -1;
  /* Only the process that opened the device may use it: a child of fork(2)
   * can only close it (poll(7); EACCES on Solaris). */
  w->dp = open("/dev/poll", O_RDWR);
  int err = w->dp < 0 || pipe(w->wake) != 0 ? errno : 0;
  for (int i = 0; err == 0 && i < 2; i++) {
    fcntl(w->wake[i], F_SETFD, FD_CLOEXEC);
    fcntl(w->wake[i], F_SETFL, fcntl(w->wake[i], F_GETFL) | O_NONBLOCK);
  }
  if (err == 0) {
    fcntl(w->dp, F_SETFD, FD_CLOEXEC);
    /* The wake-up pipe stays in the set for the waiter's life. */
    struct pollfd wake = {.fd = w->wake[0], .events = POLLIN};
    err = put(w, &wake, 1);
  }
  if (err != 0) {
    zc_waiter_close(w);
    errno = err;
    return NULL;
  }
  return w;
}

void zc_waiter_close(zc_waiter *w) {
  if (w->dp >= 0) close(w->dp);
  for (int i = 0; i < 2; i++)
    if (w->wake[i] >= 0) close(w->wake[i]);
  pthread_mutex_destroy(&w->mu);
  free(w->slots);
  free(w);
}

/* The slot of fd, growing the table; NULL without memory. */
static slot *slot_of(zc_waiter *w, int fd) {
  if ((size_t)fd >= w->nslots) {
    size_t n = w->nslots ? w->nslots : 64;
    while (n <= (size_t)fd) n *= 2;
    slot *s = realloc(w->slots, n * sizeof *s);
    if (!s) return NULL;
    for (size_t i = w->nslots; i < n; i++) s[i] = (slot){0};
    w->slots = s;
    w->nslots = n;
  }
  return &w->slots[fd];
}

int zc_waiter_arm(zc_waiter *w, int fd, uint64_t token, unsigned events, int again) {
  (void)again;
  short mask = (short)((events & ZC_WAIT_WRITE ? POLLOUT : 0) | (events & ZC_WAIT_READ ? POLLIN : 0));
  int err = 0;
  pthread_mutex_lock(&w->mu);
  slot *s = slot_of(w, fd);
  if (!s) {
    err = ENOMEM;
  } else if (s->registered && s->events != mask) {
    /* Writing an entry ORs its events into those registered (poll(7)):
     * other events take a removal first. */
    struct pollfd entries[2] = {{.fd = fd, .events = POLLREMOVE}, {.fd = fd, .events = mask}};
    err = put(w, entries, 2);
    if (err == 0) s->events = mask;
    else s->registered = 0;
  } else if (!s->registered) {
    struct pollfd entry = {.fd = fd, .events = mask};
    err = put(w, &entry, 1);
    /* HP-UX's write "does not return any error indication if one or more
     * of the file descriptors ... could not be registered" (poll(7)), and
     * it registers only sockets, pipes, FIFOs, XTI endpoints and STREAMS
     * devices: ask whether this one is in the set. One that is not (a
     * regular file, /dev/null) never blocks, and the caller steps it now. */
    if (err == 0) {
      struct pollfd query = {.fd = fd};
      int polled = ioctl(w->dp, DP_ISPOLLED, &query);
      err = polled == 1 ? 0 : polled == 0 ? EPERM : errno;
    }
    s->registered = err == 0;
    s->events = mask;
  }
  if (err == 0) {
    s->token = token;
    s->armed = 1;
  }
  int wake = err == 0 && w->polling;
  pthread_mutex_unlock(&w->mu);
  if (wake) zc_waiter_wake(w);
  return err;
}

void zc_waiter_forget(zc_waiter *w, int fd) {
  pthread_mutex_lock(&w->mu);
  int wake = 0;
  if ((size_t)fd < w->nslots && w->slots[fd].registered) {
    /* Left in the set, a closed descriptor comes back with POLLNVAL, and
     * its number, once reused, polls whatever it then names (poll(4D)). */
    struct pollfd entry = {.fd = fd, .events = POLLREMOVE};
    (void)put(w, &entry, 1);
    w->slots[fd].registered = 0;
    /* A DP_POLL in progress may hold what fd names (poll(4D) asks for
     * "careful coordination among threads doing close and DP_POLL"). */
    wake = w->polling;
  }
  if ((size_t)fd < w->nslots) w->slots[fd].armed = 0;
  pthread_mutex_unlock(&w->mu);
  if (wake) zc_waiter_wake(w);
}

void zc_waiter_wake(zc_waiter *w) {
  char byte = 1;
  /* A full pipe already holds a wake-up: nothing is lost. */
  (void)!write(w->wake[1], &byte, 1);
}

int zc_waiter_wait(zc_waiter *w, uint64_t *tokens, int max) {
  if (max > BATCH) max = BATCH;
  pthread_mutex_lock(&w->mu);
  /* One report per arming: what was reported and not armed again since
   * leaves the set before the device is polled. */
  struct pollfd removals[BATCH];
  int nremovals = 0;
  for (int i = 0; i < w->nreported; i++) {
    slot *s = &w->slots[w->reported[i]];
    if (s->armed || !s->registered) continue;
    removals[nremovals++] = (struct pollfd){.fd = w->reported[i], .events = POLLREMOVE};
    s->registered = 0;
  }
  w->nreported = 0;
  if (nremovals > 0) (void)put(w, removals, nremovals);
  w->polling = 1;
  pthread_mutex_unlock(&w->mu);

  struct pollfd ready[BATCH];
  struct dvpoll request = {.dp_fds = ready, .dp_nfds = max, .dp_timeout = -1};
  int n = ioctl(w->dp, DP_POLL, &request);

  pthread_mutex_lock(&w->mu);
  w->polling = 0;
  int count = 0;
  for (int i = 0; i < n; i++) { /* none on EINTR (n is -1) */
    int fd = ready[i].fd;
    if (fd == w->wake[0]) {
      char drain[64];
      while (read(w->wake[0], drain, sizeof drain) > 0) {
      }
      continue;
    }
    /* Skipped: forgotten while we polled, or already reported. */
    if ((size_t)fd >= w->nslots || !w->slots[fd].armed) continue;
    w->slots[fd].armed = 0;
    w->reported[w->nreported++] = fd;
    tokens[count++] = w->slots[fd].token;
  }
  pthread_mutex_unlock(&w->mu);
  return count;
}
