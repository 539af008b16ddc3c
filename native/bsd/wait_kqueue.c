/* FreeBSD, DragonFly and macOS: kqueue(2). Each arming adds an EVFILT_WRITE
 * or EVFILT_READ event (or both) with EV_ONESHOT, which the kernel deletes
 * as it hands the event over: one report per arming, and arming again is
 * another EV_ADD. The wake-up is an EVFILT_USER event, triggered with
 * NOTE_TRIGGER.
 *
 * EV_ONESHOT rather than EV_DISPATCH + EV_ENABLE: both FreeBSD's and Apple's
 * kqueue(2) document EV_ONESHOT; Apple's does not list EV_DISPATCH. Keeping
 * a disabled event and enabling it again would save the kernel one event
 * allocation per report, which is small beside the send step every report
 * leads to; and with EV_ONESHOT nothing stays registered between a report
 * and the next arming, so a transfer that ends has nothing left to delete.
 *
 * The token rides in the event's pointer-sized udata, so CMake builds this
 * file where pointers have 64 bits (32-bit builds wait with poll(2)). */
#if !defined(__FreeBSD__) && !defined(__DragonFly__) && !defined(__APPLE__) && !defined(ZEROCOPY_SHIM)
#error "wait_kqueue.c is the FreeBSD/DragonFly/macOS waiter: build it there, or against test/shims/kqueue.h (ZEROCOPY_SHIM)"
#endif

#include "../waiter.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/types.h>
#include <sys/event.h>
#include <sys/time.h>
#include <unistd.h>

const char zc_waiter_name[] = "kqueue";

/* The wake-up's identifier: EVFILT_USER events have identifiers of their
 * own, apart from descriptors. */
#define WAKE_IDENT 0

/* Events taken from the kernel per wait. */
#define BATCH 64

struct zc_waiter {
  int kq;
};

zc_waiter *zc_waiter_open(void) {
  zc_waiter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  /* A kqueue is not inherited by a child of fork(2) (both manuals); kqueue()
   * takes no flags on macOS, so close-on-exec is set after. */
  w->kq = kqueue();
  /* EV_CLEAR: a retrieved trigger is reset, so wake-ups made before a wait
   * return it once. Apple's manual does not list EVFILT_USER, but macOS's
   * <sys/event.h> defines it and xnu's own tests add and trigger it. */
  struct kevent wake;
  EV_SET(&wake, WAKE_IDENT, EVFILT_USER, EV_ADD | EV_CLEAR, 0, 0, NULL);
  if (w->kq < 0 || fcntl(w->kq, F_SETFD, FD_CLOEXEC) != 0 ||
      kevent(w->kq, &wake, 1, NULL, 0, NULL) != 0)
    return zc_waiter_abandon(w);
  return w;
}

void zc_waiter_close(zc_waiter *w) {
  if (w->kq >= 0) close(w->kq);
  free(w);
}

/* The filters `events` asks for, with `flags`, into changes; their count. */
static int changes_for(struct kevent *changes, int fd, unsigned events, unsigned short flags, uint64_t token) {
  static const struct {
    unsigned event;
    short filter;
  } filters[] = {{ZC_WAIT_WRITE, EVFILT_WRITE}, {ZC_WAIT_READ, EVFILT_READ}};
  int n = 0;
  for (int i = 0; i < 2; i++)
    if (events & filters[i].event) EV_SET(&changes[n++], fd, filters[i].filter, flags, 0, 0, (void *)(uintptr_t)token);
  return n;
}

int zc_waiter_arm(zc_waiter *w, int fd, uint64_t token, unsigned events, int again) {
  /* EV_ADD adds the event, or updates the one a reused descriptor number
   * still has: a first arming and a re-arming are the same call. Reading
   * and writing are two filters, so a descriptor armed for both is two
   * events, each reported once. */
  (void)again;
  struct kevent changes[2];
  int n = changes_for(changes, fd, events, EV_ADD | EV_ONESHOT, token);
  /* With no room for events, a refused change fails the call with its
   * errno rather than coming back flagged EV_ERROR (both manuals). */
  if (kevent(w->kq, changes, n, NULL, 0, NULL) == 0) return 0;
  /* "When kevent call fails with EINTR error, all changes in the
   * changelist have been applied" (FreeBSD's manual). */
  if (errno == EINTR) return 0;
  /* EVFILT_WRITE "is not supported for vnodes" (both manuals), and EINVAL
   * is their error for a filter that does not apply: regular files never
   * block, and the caller steps them now. */
  return errno == EINVAL ? EPERM : errno;
}

void zc_waiter_forget(zc_waiter *w, int fd) {
  /* Deleting also drops an event queued and not yet retrieved. ENOENT
   * after a report: the one-shot event is gone already, or was never
   * added. EV_RECEIPT gives each change its own result in `receipts`, so
   * that one filter's ENOENT does not stop the other's deletion, and the
   * call returns them without waiting for events. Closing fd would delete
   * the events too ("Calling close() on a file descriptor will remove any
   * kevents that reference the descriptor"), but our caller forgets before
   * it closes, and a wait must not report fd in between. */
  struct kevent changes[2], receipts[2];
  int n = changes_for(changes, fd, ZC_WAIT_WRITE | ZC_WAIT_READ, EV_DELETE | EV_RECEIPT, 0);
  (void)kevent(w->kq, changes, n, receipts, n, NULL);
}

void zc_waiter_wake(zc_waiter *w) {
  /* A trigger not yet retrieved holds the wake-up: nothing is lost. */
  struct kevent trigger;
  EV_SET(&trigger, WAKE_IDENT, EVFILT_USER, 0, NOTE_TRIGGER, 0, NULL);
  (void)kevent(w->kq, &trigger, 1, NULL, 0, NULL);
}

int zc_waiter_wait(zc_waiter *w, uint64_t *tokens, int max) {
  struct kevent events[BATCH];
  if (max > BATCH) max = BATCH;
  int n = kevent(w->kq, NULL, 0, events, max, NULL);
  if (n < 0) return 0; /* EINTR */
  int count = 0;
  for (int i = 0; i < n; i++) {
    if (events[i].filter == EVFILT_USER) continue; /* the wake-up */
    /* EV_EOF (the peer went away) and a socket error come as reports
     * too: the next call reports them. */
    tokens[count++] = (uint64_t)(uintptr_t)events[i].udata;
  }
  return count;
}
