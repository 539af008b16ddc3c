/* Solaris and illumos event ports on Linux: port_create(3C),
 * port_associate(3C), port_getn(3C) and port_send(3C), for shim builds.
 * Test code: never shipped.
 *
 * Models, from the manuals:
 * - port_create(): a port, under a descriptor of its own.
 * - port_associate(port, PORT_SOURCE_FD, fd, events, user): at most one
 *   event per association, sent when fd's poll(2) condition holds (at once
 *   if it holds already); retrieving the event ends the association.
 *   Associating a descriptor already associated updates its events and
 *   user. EBADFD for a descriptor that is not open, EINVAL for a source
 *   other than PORT_SOURCE_FD.
 * - port_dissociate(): ends the association; ENOENT when there is none.
 * - port_send(): queues one user event (PORT_SOURCE_USER) per call, with
 *   the events and user given, retrieved in order.
 * - Associations and queued events share one limit, the stand-in for
 *   process.max-port-events (MAX_PORT_EVENTS): beyond it port_associate
 *   and port_send fail with EAGAIN.
 * - port_getn(): blocks until *nget events are there (NULL timeout), or
 *   until the time runs out (ETIME, *nget set to what was retrieved), and
 *   retrieves up to max of them; EINVAL when *nget > max. A descriptor's
 *   event carries poll(2)'s revents: POLLOUT, POLLHUP, POLLERR, and POLLNVAL
 *   for a descriptor closed while associated.
 * - Changes made from another thread reach a port_getn() that is waiting.
 *
 * Simpler than the real system: every wait polls every associated
 * descriptor (the shim checks behaviour, not cost); AIO, timer, message
 * queue, file and alert sources are not modelled, nor port_get(),
 * port_sendn() and port_getn()'s count-only call (max 0, refused with
 * EINVAL); ports are not shared with a child of fork(2), and the owner of
 * an association is not tracked; events are made when port_getn() looks,
 * so dissociating always drops an event not yet retrieved (the manual does
 * not say whether an event already sent survives port_dissociate); a
 * closed descriptor's association lasts until its POLLNVAL event is
 * retrieved (the manual does not say what close does); a signal during a
 * wait that has retrieved events already returns those; a wait woken by a
 * change starts its timeout again. */
#define _GNU_SOURCE
#include "ports.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>

#include "readiness.h"

#define MAX_PORT_EVENTS 65536

typedef struct association {
  int fd;
  int events;
  void *user;
} association;

typedef struct user_event {
  int events;
  void *user;
} user_event;

typedef struct port {
  shim_instance in;
  association *assoc;
  size_t nassoc, assoc_cap;
  user_event *queue; /* queued user events are [head, nqueue) */
  size_t head, nqueue, queue_cap;
} port;

/* Grows *items (of `size` bytes each) to hold one more than *n. */
static int grow(void **items, size_t *cap, size_t n, size_t size) {
  if (n < *cap) return 0;
  size_t want = *cap ? *cap * 2 : 16;
  void *more = realloc(*items, want * size);
  if (!more) return ENOMEM;
  *items = more;
  *cap = want;
  return 0;
}

static size_t in_use(const port *p) { return p->nassoc + (p->nqueue - p->head); }

static association *find(port *p, int fd) {
  for (size_t i = 0; i < p->nassoc; i++)
    if (p->assoc[i].fd == fd) return &p->assoc[i];
  return NULL;
}

static void dissociate(port *p, association *a) { *a = p->assoc[--p->nassoc]; }

/* The port under `fd`, or NULL with errno set as the manuals say. */
static port *port_of(int fd) {
  port *p = shim_instance_find(fd);
  if (!p) errno = fcntl(fd, F_GETFD) < 0 ? EBADF : EBADFD;
  return p;
}

/* Ends a change: -1 with errno for an error, else 0, after waking any
 * port_getn() waiting on another thread so that it looks at the new set. */
static int changed(port *p, int err) {
  if (err != 0) {
    errno = err;
    return -1;
  }
  shim_instance_signal(&p->in);
  return 0;
}

int port_create(void) {
  port *p = shim_instance_new(sizeof *p);
  return p ? p->in.fd : -1;
}

int port_associate(int fd, int source, uintptr_t object, int events, void *user) {
  port *p = port_of(fd);
  if (!p) return -1;
  int err = source != PORT_SOURCE_FD ? EINVAL
            : object > (uintptr_t)0x7fffffff || fcntl((int)object, F_GETFD) < 0 ? EBADFD
                                                                              : 0;
  if (err == 0) {
    pthread_mutex_lock(&p->in.mu);
    association *a = find(p, (int)object);
    if (!a) {
      err = in_use(p) >= MAX_PORT_EVENTS ? EAGAIN
                                         : grow((void **)&p->assoc, &p->assoc_cap, p->nassoc, sizeof *a);
      if (err == 0) a = &p->assoc[p->nassoc++];
    }
    if (a) *a = (association){(int)object, events, user};
    pthread_mutex_unlock(&p->in.mu);
  }
  return changed(p, err);
}

int port_dissociate(int fd, int source, uintptr_t object) {
  port *p = port_of(fd);
  if (!p) return -1;
  int err = source != PORT_SOURCE_FD ? EINVAL : 0;
  if (err == 0) {
    pthread_mutex_lock(&p->in.mu);
    association *a = object > (uintptr_t)0x7fffffff ? NULL : find(p, (int)object);
    if (a)
      dissociate(p, a);
    else
      err = ENOENT;
    pthread_mutex_unlock(&p->in.mu);
  }
  return changed(p, err);
}

int port_send(int fd, int events, void *user) {
  port *p = port_of(fd);
  if (!p) return -1;
  pthread_mutex_lock(&p->in.mu);
  if (p->head == p->nqueue) p->head = p->nqueue = 0;
  int err = in_use(p) >= MAX_PORT_EVENTS
                ? EAGAIN
                : grow((void **)&p->queue, &p->queue_cap, p->nqueue, sizeof *p->queue);
  if (err == 0) p->queue[p->nqueue++] = (user_event){events, user};
  pthread_mutex_unlock(&p->in.mu);
  return changed(p, err);
}

int port_getn(int fd, port_event_t list[], uint_t max, uint_t *nget, const timespec_t *timeout) {
  port *p = port_of(fd);
  if (!p) return -1;
  if (!list || !nget || max == 0 || *nget > max) {
    errno = EINVAL;
    return -1;
  }
  uint_t want = *nget, got = 0;
  int timeout_ms = shim_timeout_ms(timeout);
  for (;;) {
    pthread_mutex_lock(&p->in.mu);
    while (got < max && p->head < p->nqueue) {
      user_event e = p->queue[p->head++];
      list[got++] = (port_event_t){.portev_events = e.events, .portev_source = PORT_SOURCE_USER,
                                   .portev_user = e.user};
    }
    struct pollfd *fds = malloc((p->nassoc + 1) * sizeof *fds);
    if (!fds) {
      pthread_mutex_unlock(&p->in.mu);
      errno = ENOMEM;
      return -1;
    }
    fds[0] = (struct pollfd){.fd = p->in.fd, .events = POLLIN};
    nfds_t nfds = 1;
    for (size_t i = 0; i < p->nassoc; i++)
      fds[nfds++] = (struct pollfd){.fd = p->assoc[i].fd, .events = (short)p->assoc[i].events};
    pthread_mutex_unlock(&p->in.mu);

    int polled = poll(fds, nfds, got >= want ? 0 : timeout_ms);
    if (polled < 0 && got == 0) {
      int err = errno;
      free(fds);
      errno = err;
      return -1;
    }

    pthread_mutex_lock(&p->in.mu);
    if (polled > 0 && fds[0].revents) shim_instance_drain(&p->in);
    for (nfds_t j = 1; polled > 0 && j < nfds && got < max; j++) {
      if (!fds[j].revents) continue;
      /* Dissociated while we polled: no event. */
      association *a = find(p, fds[j].fd);
      if (!a) continue;
      list[got++] = (port_event_t){.portev_events = fds[j].revents, .portev_source = PORT_SOURCE_FD,
                                   .portev_object = (uintptr_t)a->fd, .portev_user = a->user};
      /* Retrieved: the association ends. */
      dissociate(p, a);
    }
    pthread_mutex_unlock(&p->in.mu);
    free(fds);
    if (got >= want || polled < 0) break;
    if (polled == 0 && timeout_ms >= 0) {
      *nget = got;
      errno = ETIME;
      return -1;
    }
  }
  *nget = got;
  return 0;
}
