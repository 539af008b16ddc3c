/* Linux: epoll(7). EPOLLONESHOT gives one report per arming, so a transfer
 * that is being stepped is never reported again until it asks; the wake-up
 * is an eventfd registered under token 0. */
#include "../waiter.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

const char zc_waiter_name[] = "epoll";

struct zc_waiter {
  int ep;
  int wake;
};

zc_waiter *zc_waiter_open(void) {
  zc_waiter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  w->ep = epoll_create1(EPOLL_CLOEXEC);
  w->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0};
  if (w->ep < 0 || w->wake < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->wake, &ev) != 0)
    return zc_waiter_abandon(w);
  return w;
}

void zc_waiter_close(zc_waiter *w) {
  if (w->ep >= 0) close(w->ep);
  if (w->wake >= 0) close(w->wake);
  free(w);
}

int zc_waiter_arm(zc_waiter *w, int fd, uint64_t token, unsigned events, int again) {
  /* One registration per descriptor carries both kinds: EPOLLIN also
   * reports the peer's end of stream. */
  uint32_t mask = (events & ZC_WAIT_WRITE ? EPOLLOUT : 0) | (events & ZC_WAIT_READ ? EPOLLIN : 0);
  struct epoll_event ev = {.events = mask | EPOLLONESHOT, .data.u64 = token};
  if (epoll_ctl(w->ep, again ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  /* A descriptor number the caller reuses for a new transfer may still be
   * registered (EEXIST), or one we took for registered was not (ENOENT). */
  if (errno == EEXIST && epoll_ctl(w->ep, EPOLL_CTL_MOD, fd, &ev) == 0) return 0;
  if (errno == ENOENT && epoll_ctl(w->ep, EPOLL_CTL_ADD, fd, &ev) == 0) return 0;
  /* EPERM: regular files and some devices (/dev/null) cannot be
   * registered; they never block, and the caller steps them now. */
  return errno;
}

void zc_waiter_forget(zc_waiter *w, int fd) {
  /* The registration belongs to the open file description, which our
   * caller's duplicate shares: without this it would outlive close(fd). */
  (void)epoll_ctl(w->ep, EPOLL_CTL_DEL, fd, NULL);
}

void zc_waiter_wake(zc_waiter *w) {
  uint64_t one = 1;
  /* A counter already non-zero holds a wake-up: nothing is lost. */
  (void)!write(w->wake, &one, sizeof one);
}

int zc_waiter_wait(zc_waiter *w, uint64_t *tokens, int max) {
  struct epoll_event events[64];
  if (max > 64) max = 64;
  int n = epoll_wait(w->ep, events, max, -1);
  if (n < 0) return 0; /* EINTR */
  int count = 0;
  for (int i = 0; i < n; i++) {
    if (events[i].data.u64 == 0) {
      uint64_t drained;
      (void)!read(w->wake, &drained, sizeof drained);
      continue;
    }
    tokens[count++] = events[i].data.u64;
  }
  return count;
}
