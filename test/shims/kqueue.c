/* kqueue(2) and kevent(2) of FreeBSD and macOS on Linux, for shim builds.
 * Test code: never shipped.
 *
 * Models, from the two manuals:
 * - kqueue(): a new queue, under a descriptor of its own.
 * - kevent() applies the whole changelist before it returns any event. A
 *   change that fails is placed in the eventlist, flagged EV_ERROR with its
 *   errno in data, while there is room; without room the call fails with -1
 *   and that errno (the changes before it stay applied). A call that placed
 *   errors returns them without waiting for events.
 * - An event is identified by (ident, filter): EV_ADD of one that exists
 *   updates its flags and udata, and never duplicates it.
 * - EVFILT_WRITE: returned whenever the descriptor can be written (poll(2)'s
 *   POLLOUT), and with EV_EOF once it has hung up or has an error (POLLHUP,
 *   POLLERR); EINVAL for regular files and directories ("this filter is not
 *   supported for vnodes"); EBADF for a descriptor that is not open.
 * - EVFILT_READ: returned whenever the descriptor has bytes to read, or its
 *   peer's end of stream (poll(2)'s POLLIN, and POLLHUP), with EV_EOF once
 *   the peer has ended or it has an error; for a regular file, when the
 *   file pointer is not at the end of the file ("Vnodes"); EBADF for a
 *   descriptor that is not open. A descriptor's read and write events are
 *   two events, each with its own flags and udata. A source spliced with
 *   SO_SPLICE is not readable until the splice dissolves (FreeBSD's
 *   tests/sys/kern/socket_splice.c: splice_kevent; test/shims/sosplice.c).
 * - EV_ONESHOT: the event is deleted as it is returned.
 * - EV_DELETE: the event goes, with any report of it not yet returned;
 *   ENOENT when there is none.
 * - EVFILT_USER: EV_ADD registers an identifier; NOTE_TRIGGER in fflags
 *   triggers it (with EV_ADD, or alone for one added before; ENOENT
 *   otherwise); a triggered event is returned until EV_CLEAR resets it as
 *   it is returned.
 * - EV_RECEIPT: the change's outcome is placed in the eventlist flagged
 *   EV_ERROR, with data 0 for a change that succeeded, while there is room;
 *   a call that placed any returns them without waiting for events.
 * - "Calling close() on a file descriptor will remove any kevents that
 *   reference the descriptor": see below for when the shim notices.
 * - Changes made from another thread reach a kevent() that is waiting: it
 *   looks at the new set at once. timeout NULL waits; a zero timeout polls;
 *   EINTR when a signal comes before any event.
 *
 * Simpler than the real system: every wait polls every registered
 * descriptor, so a wait costs in proportion to what is registered (the
 * opposite of what kqueue is for: the shim checks behaviour, not cost);
 * filters other than EVFILT_WRITE, EVFILT_READ and EVFILT_USER, and the
 * flags EV_ENABLE, EV_DISABLE and EV_DISPATCH, are refused with EINVAL
 * rather than modelled; data of a read or write event is 0, not the bytes
 * to read or the space left; EVFILT_READ on a directory, a FIFO's writer
 * and other corners of the vnode rules are not modelled;
 * NOTE_LOWAT and the user filter's fflags arithmetic are not modelled; a
 * queue is not dropped from a child of fork(2); a closed descriptor's
 * events go when the shim next looks at them (poll(2) says POLLNVAL, or the
 * number now names another file than when the event was added), not at the
 * close; a wait woken by a change starts its timeout again. */
#define _GNU_SOURCE
#include "kqueue.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readiness.h"

typedef struct knote {
  uintptr_t ident;
  short filter;
  unsigned short flags; /* EV_ONESHOT and EV_CLEAR, as last added */
  void *udata;
  int triggered;        /* EVFILT_USER: triggered and not yet cleared */
  dev_t dev;            /* EVFILT_WRITE: the file the descriptor named */
  ino_t ino;            /* when the event was added */
} knote;

typedef struct queue {
  shim_instance in;
  knote *notes; /* in no order */
  size_t n, cap;
} queue;

#define MODELLED_FLAGS (EV_ADD | EV_DELETE | EV_ONESHOT | EV_CLEAR | EV_RECEIPT)

/* A source spliced with SO_SPLICE is not readable until the splice
 * dissolves (test/shims/sosplice.c, linked in the FreeBSD shim build only:
 * elsewhere this is NULL). */
__attribute__((weak)) int zc_shim_spliced_source(int fd);

static int hidden_by_splice(const knote *k) {
  return k->filter == EVFILT_READ && zc_shim_spliced_source && zc_shim_spliced_source((int)k->ident);
}

/* Filters that watch a descriptor. */
static int on_descriptor(short filter) { return filter == EVFILT_WRITE || filter == EVFILT_READ; }

static knote *find(queue *q, uintptr_t ident, short filter) {
  for (size_t i = 0; i < q->n; i++)
    if (q->notes[i].ident == ident && q->notes[i].filter == filter) return &q->notes[i];
  return NULL;
}

static void delete_note(queue *q, knote *k) { *k = q->notes[--q->n]; }

int kqueue(void) {
  queue *q = shim_instance_new(sizeof *q);
  return q ? q->in.fd : -1;
}

/* Applies one change under the queue's lock: 0 or an errno. */
static int apply(queue *q, const struct kevent *c) {
  if ((c->flags & ~MODELLED_FLAGS) || (!on_descriptor(c->filter) && c->filter != EVFILT_USER))
    return EINVAL;
  knote *k = find(q, c->ident, c->filter);
  if (c->flags & EV_DELETE) {
    if (!k) return ENOENT;
    delete_note(q, k);
    return 0;
  }
  if (c->flags & EV_ADD) {
    struct stat st = {0};
    if (on_descriptor(c->filter)) {
      if (c->ident > INT_MAX || fstat((int)c->ident, &st) != 0) return EBADF;
      if (c->filter == EVFILT_WRITE && (S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return EINVAL;
    }
    if (!k) {
      if (q->n == q->cap) {
        size_t cap = q->cap ? q->cap * 2 : 16;
        knote *notes = realloc(q->notes, cap * sizeof *notes);
        if (!notes) return ENOMEM;
        q->notes = notes;
        q->cap = cap;
      }
      k = &q->notes[q->n++];
      *k = (knote){.ident = c->ident, .filter = c->filter};
    }
    k->flags = c->flags & (EV_ONESHOT | EV_CLEAR);
    k->udata = c->udata;
    k->dev = st.st_dev;
    k->ino = st.st_ino;
  } else if (!k) {
    return ENOENT;
  }
  if (c->filter == EVFILT_USER && (c->fflags & NOTE_TRIGGER)) k->triggered = 1;
  return 0;
}

/* Waits for events and returns up to nevents of them, as kevent() does
 * once its changes are applied. */
/* Whether a regular file's pointer is short of its end, as EVFILT_READ
 * reports vnodes; anything else says what poll(2) said. */
static int readable_vnode(int fd) {
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return -1;
  off_t at = lseek(fd, 0, SEEK_CUR);
  return at >= 0 && at < st.st_size;
}

/* Waits for events and returns up to nevents of them, as kevent() does
 * once its changes are applied. */
static int collect(queue *q, struct kevent *events, int nevents, int timeout_ms) {
  for (;;) {
    pthread_mutex_lock(&q->in.mu);
    struct pollfd *fds = malloc((q->n + 1) * sizeof *fds);
    short *filters = malloc((q->n + 1) * sizeof *filters);
    if (!fds || !filters) {
      pthread_mutex_unlock(&q->in.mu);
      free(fds);
      free(filters);
      errno = ENOMEM;
      return -1;
    }
    fds[0] = (struct pollfd){.fd = q->in.fd, .events = POLLIN};
    int nfds = 1, user_ready = 0;
    for (size_t i = 0; i < q->n; i++) {
      if (on_descriptor(q->notes[i].filter)) {
        if (hidden_by_splice(&q->notes[i])) continue;
        filters[nfds] = q->notes[i].filter;
        short want = q->notes[i].filter == EVFILT_WRITE ? POLLOUT : POLLIN | POLLRDHUP;
        fds[nfds++] = (struct pollfd){.fd = (int)q->notes[i].ident, .events = want};
      } else if (q->notes[i].triggered) {
        user_ready = 1;
      }
    }
    pthread_mutex_unlock(&q->in.mu);

    int polled = poll(fds, (nfds_t)nfds, user_ready ? 0 : timeout_ms);
    if (polled < 0) {
      int err = errno;
      free(fds);
      free(filters);
      errno = err;
      return -1;
    }

    pthread_mutex_lock(&q->in.mu);
    if (fds[0].revents) shim_instance_drain(&q->in);
    int out = 0;
    for (size_t i = 0; i < q->n && out < nevents;) {
      knote *k = &q->notes[i];
      if (k->filter == EVFILT_USER && k->triggered) {
        events[out++] = (struct kevent){k->ident, EVFILT_USER, k->flags, 0, 0, k->udata};
        if (k->flags & EV_CLEAR) k->triggered = 0;
        if (k->flags & EV_ONESHOT) {
          delete_note(q, k);
          continue;
        }
      }
      i++;
    }
    for (int j = 1; j < nfds && out < nevents; j++) {
      if (!fds[j].revents) continue;
      /* Deleted while we polled: no report. */
      knote *k = find(q, (uintptr_t)fds[j].fd, filters[j]);
      if (!k) continue;
      struct stat st;
      if ((fds[j].revents & POLLNVAL) || fstat(fds[j].fd, &st) != 0 || st.st_dev != k->dev ||
          st.st_ino != k->ino) {
        /* Closed since it was added: the close removed it. */
        delete_note(q, k);
        continue;
      }
      /* poll(2) calls a regular file readable at its end; kqueue does not. */
      if (filters[j] == EVFILT_READ && readable_vnode(fds[j].fd) == 0) continue;
      unsigned short flags = k->flags | (fds[j].revents & (POLLHUP | POLLERR | POLLRDHUP) ? EV_EOF : 0);
      events[out++] = (struct kevent){k->ident, k->filter, flags, 0, 0, k->udata};
      if (k->flags & EV_ONESHOT) delete_note(q, k);
    }
    pthread_mutex_unlock(&q->in.mu);
    free(fds);
    free(filters);
    /* Nothing for us after a change, or a report that went stale: again. */
    if (out > 0 || polled == 0) return out;
  }
}

int kevent(int kq, const struct kevent *changelist, int nchanges, struct kevent *eventlist,
           int nevents, const struct timespec *timeout) {
  queue *q = shim_instance_find(kq);
  if (!q || nchanges < 0 || nevents < 0) {
    errno = q ? EINVAL : EBADF;
    return -1;
  }
  int placed = 0, failed = 0;
  pthread_mutex_lock(&q->in.mu);
  for (int i = 0; i < nchanges && !failed; i++) {
    int err = apply(q, &changelist[i]);
    if (err == 0 && !(changelist[i].flags & EV_RECEIPT)) continue;
    if (placed < nevents) {
      eventlist[placed] = changelist[i];
      eventlist[placed].flags = EV_ERROR;
      eventlist[placed].data = err;
      placed++;
    } else {
      failed = err;
    }
  }
  pthread_mutex_unlock(&q->in.mu);
  /* A kevent() waiting on another thread looks at the new set. */
  if (nchanges > 0) shim_instance_signal(&q->in);
  if (failed) {
    errno = failed;
    return -1;
  }
  if (placed > 0 || nevents == 0) return placed;
  return collect(q, eventlist, nevents, shim_timeout_ms(timeout));
}
