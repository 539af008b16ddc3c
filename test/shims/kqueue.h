/* What FreeBSD's and macOS's <sys/event.h> give native/bsd/wait_kqueue.c,
 * for shim builds, where test/shims/include/sys/event.h stands in for that
 * header. Values are FreeBSD's. Linux has no kqueue, so nothing is renamed.
 * Test code: never shipped. */
#ifndef ZEROCOPY_SHIM_KQUEUE_H
#define ZEROCOPY_SHIM_KQUEUE_H

#include <stdint.h>
#include <time.h>

struct kevent {
  uintptr_t ident;     /* a descriptor, or a user event's identifier */
  short filter;        /* EVFILT_* */
  unsigned short flags; /* EV_* */
  unsigned int fflags; /* filter flags (NOTE_*) */
  intptr_t data;       /* filter data; the errno with EV_ERROR */
  void *udata;         /* passed through unchanged */
};

#define EV_SET(kevp, a, b, c, d, e, f) \
  do {                                 \
    struct kevent *kev_ = (kevp);      \
    kev_->ident = (a);                 \
    kev_->filter = (b);                \
    kev_->flags = (c);                 \
    kev_->fflags = (d);                \
    kev_->data = (e);                  \
    kev_->udata = (f);                 \
  } while (0)

#define EVFILT_READ (-1)
#define EVFILT_WRITE (-2)
#define EVFILT_USER (-11)

#define EV_ADD 0x0001
#define EV_DELETE 0x0002
#define EV_ENABLE 0x0004
#define EV_DISABLE 0x0008
#define EV_ONESHOT 0x0010
#define EV_CLEAR 0x0020
#define EV_RECEIPT 0x0040
#define EV_DISPATCH 0x0080
#define EV_ERROR 0x4000
#define EV_EOF 0x8000

#define NOTE_TRIGGER 0x01000000

int kqueue(void);
int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout);

#endif
