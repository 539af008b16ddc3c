/* Solaris and illumos: event ports, port_create(3C). An association of a
 * descriptor (PORT_SOURCE_FD) is one-shot by design: retrieving its event
 * ends it (port_associate(3C)), so a report disarms, and arming again is
 * another port_associate. The wake-up is a user event (PORT_SOURCE_USER)
 * sent with port_send(3C).
 *
 * The token rides in the association's pointer-sized user value, so CMake
 * builds this file where pointers have 64 bits (32-bit builds wait with
 * poll(2)). */
#if !defined(__sun) && !defined(ZEROCOPY_SHIM)
#error "wait_port.c is the Solaris/illumos waiter: build it there, or against test/shims/ports.h (ZEROCOPY_SHIM)"
#endif

#include "../waiter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <port.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

const char zc_waiter_name[] = "ports";

/* Events taken from the port per wait. */
#define BATCH 64

struct zc_waiter {
  int port;
  /* 1 while a wake-up event is queued and not yet retrieved. Every
   * port_send queues one more event, and queued events count against the
   * port's process.max-port-events limit, which associations share
   * (port_associate's EAGAIN): wake-ups beyond the first must not queue. */
  atomic_int wake_queued;
};

zc_waiter *zc_waiter_open(void) {
  zc_waiter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  /* Unlike a kqueue, a port is shared with a child of fork(2), and only the
   * process that made an association may dissociate it (port_create(3C),
   * port_associate(3C)); close-on-exec keeps it out of programs the process
   * runs. */
  w->port = port_create();
  if (w->port < 0 || fcntl(w->port, F_SETFD, FD_CLOEXEC) != 0) return zc_waiter_abandon(w);
  return w;
}

void zc_waiter_close(zc_waiter *w) {
  /* Closing the port ends its associations. */
  if (w->port >= 0) close(w->port);
  free(w);
}

int zc_waiter_arm(zc_waiter *w, int fd, uint64_t token, unsigned events, int again) {
  /* For a descriptor number still associated (reused before it was
   * forgotten), port_associate "serves to update the events and user
   * arguments": a first arming and a re-arming are the same call. A
   * descriptor whose condition already holds sends its event at once, so
   * files and devices that never block need nothing special. */
  (void)again;
  int mask = (events & ZC_WAIT_WRITE ? POLLOUT : 0) | (events & ZC_WAIT_READ ? POLLIN : 0);
  if (port_associate(w->port, PORT_SOURCE_FD, (uintptr_t)fd, mask, (void *)(uintptr_t)token) == 0)
    return 0;
  return errno;
}

void zc_waiter_forget(zc_waiter *w, int fd) {
  /* ENOENT after a report: retrieving the event ended the association.
   * The manual does not say that closing fd ends it. */
  (void)port_dissociate(w->port, PORT_SOURCE_FD, (uintptr_t)fd);
}

void zc_waiter_wake(zc_waiter *w) {
  /* One queued wake-up makes the next wait return: nothing is lost. */
  if (atomic_exchange(&w->wake_queued, 1)) return;
  if (port_send(w->port, 0, NULL) != 0) atomic_store(&w->wake_queued, 0);
}

int zc_waiter_wait(zc_waiter *w, uint64_t *tokens, int max) {
  port_event_t events[BATCH];
  if (max > BATCH) max = BATCH;
  /* port_getn blocks until *nget events are there: one, and it takes up to
   * max of those that are. */
  uint_t got = 1;
  /* EINTR: a signal came before any event. */
  if (port_getn(w->port, events, (uint_t)max, &got, NULL) != 0) return 0;
  int count = 0;
  for (uint_t i = 0; i < got; i++) {
    if (events[i].portev_source == PORT_SOURCE_USER) {
      /* Cleared before this wait returns, so a wake-up skipped above is
       * seen by the caller after the return. */
      atomic_store(&w->wake_queued, 0);
      continue;
    }
    /* POLLHUP or POLLERR in portev_events are reports too: the next call
     * reports them. */
    if (events[i].portev_source == PORT_SOURCE_FD)
      tokens[count++] = (uint64_t)(uintptr_t)events[i].portev_user;
  }
  return count;
}
