/* HP-UX's /dev/poll, poll(7), on Linux, for shim builds. Test code: never
 * shipped.
 *
 * Models, from HP-UX's poll(7), and Solaris's poll(4D) where they agree:
 * - open("/dev/poll", O_RDWR): a new, empty set, under a descriptor of its
 *   own. Other paths open as usual.
 * - write(dp, entries, n): each pollfd entry adds its descriptor for its
 *   events, ORed with any it has; POLLREMOVE alone takes it out; POLLREMOVE
 *   ORed with other conditions is ignored and those are ORed in (HP-UX).
 *   Only sockets, pipes and FIFOs are added (HP-UX takes sockets, pipes,
 *   FIFOs, XTI endpoints and STREAMS devices), and any other descriptor is
 *   skipped without an error: HP-UX's write "does not return any error
 *   indication if one or more of the file descriptors ... could not be
 *   registered". Returns n; EINVAL for a size that is not whole entries.
 * - ioctl(dp, DP_POLL, &dvpoll): level-triggered, not one-shot: returns the
 *   registered descriptors whose conditions hold, with poll(2)'s revents,
 *   up to dp_nfds of them, waiting up to dp_timeout milliseconds (-1: until
 *   one holds); EINTR on a signal. A registered descriptor that was closed
 *   comes back with POLLNVAL, and a reused number polls whatever it names
 *   then (poll(4D)).
 * - ioctl(dp, DP_ISPOLLED, &pollfd): 1, with the registered events in
 *   revents, when the descriptor is in the set; 0 when not.
 * - close(dp) ends the set.
 * Every other descriptor and request goes to the C library.
 *
 * Simpler than the real system: every DP_POLL polls the whole set with
 * poll(2), and returns ready descriptors in the order they were added; a
 * DP_POLL in progress polls the set it began with, not entries written
 * during it (the manuals do not say; the waiter wakes it instead); XTI
 * endpoints and STREAMS devices do not exist here; the rule that only the
 * process that opened the device may use it is not modelled; DP_POLL and
 * DP_ISPOLLED have the shim's own request numbers. */
#define _GNU_SOURCE
#define ZEROCOPY_SHIM_DEVPOLL_IMPL
#include "devpoll.h"

#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "readiness.h"

typedef struct poll_set {
  shim_instance in;
  struct pollfd *entries; /* registered: fd and events */
  size_t n, cap;
} poll_set;

static struct pollfd *find(poll_set *s, int fd) {
  for (size_t i = 0; i < s->n; i++)
    if (s->entries[i].fd == fd) return &s->entries[i];
  return NULL;
}

int zc_shim_devpoll_open(const char *path, int flags, ...) {
  if (strcmp(path, "/dev/poll") == 0) {
    poll_set *s = shim_instance_new(sizeof *s);
    return s ? s->in.fd : -1;
  }
  mode_t mode = 0;
  if (flags & (O_CREAT | O_TMPFILE)) {
    va_list ap;
    va_start(ap, flags);
    mode = va_arg(ap, mode_t);
    va_end(ap);
  }
  return open(path, flags, mode);
}

/* Whether HP-UX's event port takes the descriptor (of what exists here). */
static int registrable(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 && (S_ISSOCK(st.st_mode) || S_ISFIFO(st.st_mode));
}

ssize_t zc_shim_devpoll_write(int fd, const void *buf, size_t n) {
  poll_set *s = shim_instance_find(fd);
  if (!s) return write(fd, buf, n);
  if (n % sizeof(struct pollfd) != 0) {
    errno = EINVAL;
    return -1;
  }
  const struct pollfd *in = buf;
  int err = 0;
  pthread_mutex_lock(&s->in.mu);
  for (size_t i = 0; i < n / sizeof *in && err == 0; i++) {
    struct pollfd *entry = find(s, in[i].fd);
    if (in[i].events == POLLREMOVE) {
      if (entry) *entry = s->entries[--s->n];
      continue;
    }
    short events = (short)(in[i].events & ~POLLREMOVE);
    if (entry) {
      entry->events |= events;
      continue;
    }
    if (!registrable(in[i].fd)) continue;
    if (s->n == s->cap) {
      size_t cap = s->cap ? s->cap * 2 : 16;
      struct pollfd *more = realloc(s->entries, cap * sizeof *more);
      if (!more) {
        err = ENOMEM;
        continue;
      }
      s->entries = more;
      s->cap = cap;
    }
    s->entries[s->n++] = (struct pollfd){.fd = in[i].fd, .events = events};
  }
  pthread_mutex_unlock(&s->in.mu);
  if (err != 0) {
    errno = err;
    return -1;
  }
  return (ssize_t)n;
}

static int dp_poll(poll_set *s, struct dvpoll *request) {
  pthread_mutex_lock(&s->in.mu);
  size_t n = s->n;
  struct pollfd *snapshot = malloc((n ? n : 1) * sizeof *snapshot);
  if (snapshot) memcpy(snapshot, s->entries, n * sizeof *snapshot);
  pthread_mutex_unlock(&s->in.mu);
  if (!snapshot) {
    errno = ENOMEM;
    return -1;
  }
  int polled = poll(snapshot, n, request->dp_timeout);
  int count = 0;
  for (size_t i = 0; polled > 0 && i < n && (nfds_t)count < request->dp_nfds; i++)
    if (snapshot[i].revents) request->dp_fds[count++] = snapshot[i];
  int err = errno;
  free(snapshot);
  errno = err;
  return polled < 0 ? -1 : count;
}

int zc_shim_devpoll_ioctl(int fd, unsigned long request, ...) {
  va_list ap;
  va_start(ap, request);
  void *arg = va_arg(ap, void *);
  va_end(ap);
  poll_set *s = shim_instance_find(fd);
  if (!s) return ioctl(fd, request, arg);
  if (request == DP_POLL) return dp_poll(s, arg);
  if (request != DP_ISPOLLED) {
    errno = EINVAL;
    return -1;
  }
  struct pollfd *query = arg;
  pthread_mutex_lock(&s->in.mu);
  struct pollfd *entry = find(s, query->fd);
  if (entry) query->revents = entry->events;
  pthread_mutex_unlock(&s->in.mu);
  return entry != NULL;
}

int zc_shim_devpoll_close(int fd) {
  shim_instance_drop(fd);
  return close(fd);
}
