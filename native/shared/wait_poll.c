/* Any Unix: poll(2). The portable fallback: it keeps the armed descriptors
 * in an array and hands the kernel all of them at every wait, so a wait
 * costs in proportion to what is waiting. Arming and forgetting from
 * another thread change the array under a lock and wake the waiter, which
 * then polls the new set. */
#include "../waiter.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char zc_waiter_name[] = "poll";

struct zc_waiter {
  pthread_mutex_t mu;
  int wake[2];
  /* Armed descriptors; a report disarms its entry by removing it. */
  struct pollfd *fds;
  uint64_t *tokens;
  size_t n, cap;
  /* The waiter's own copy for poll(), so arming never waits for a poll. */
  struct pollfd *scratch;
  uint64_t *scratch_tokens;
  size_t scratch_cap;
};

zc_waiter *zc_waiter_open(void) {
  zc_waiter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  pthread_mutex_init(&w->mu, NULL);
  w->wake[0] = w->wake[1] = -1;
  if (pipe(w->wake) != 0) return zc_waiter_abandon(w);
  for (int i = 0; i < 2; i++) {
    fcntl(w->wake[i], F_SETFD, FD_CLOEXEC);
    fcntl(w->wake[i], F_SETFL, fcntl(w->wake[i], F_GETFL) | O_NONBLOCK);
  }
  return w;
}

void zc_waiter_close(zc_waiter *w) {
  for (int i = 0; i < 2; i++)
    if (w->wake[i] >= 0) close(w->wake[i]);
  pthread_mutex_destroy(&w->mu);
  free(w->fds);
  free(w->tokens);
  free(w->scratch);
  free(w->scratch_tokens);
  free(w);
}

static int grow(struct pollfd **fds, uint64_t **tokens, size_t *cap, size_t want) {
  if (want <= *cap) return 0;
  size_t cap2 = *cap ? *cap * 2 : 64;
  while (cap2 < want) cap2 *= 2;
  struct pollfd *f = realloc(*fds, cap2 * sizeof *f);
  if (!f) return ENOMEM;
  *fds = f;
  uint64_t *t = realloc(*tokens, cap2 * sizeof *t);
  if (!t) return ENOMEM;
  *tokens = t;
  *cap = cap2;
  return 0;
}

int zc_waiter_arm(zc_waiter *w, int fd, uint64_t token, unsigned events, int again) {
  (void)again;
  short mask = (short)((events & ZC_WAIT_WRITE ? POLLOUT : 0) | (events & ZC_WAIT_READ ? POLLIN : 0));
  pthread_mutex_lock(&w->mu);
  /* A descriptor still armed (not reported since) keeps its one entry. */
  size_t at = 0;
  while (at < w->n && w->fds[at].fd != fd) at++;
  int err = at < w->n ? 0 : grow(&w->fds, &w->tokens, &w->cap, w->n + 1);
  if (err == 0) {
    w->fds[at] = (struct pollfd){.fd = fd, .events = mask};
    w->tokens[at] = token;
    if (at == w->n) w->n++;
  }
  pthread_mutex_unlock(&w->mu);
  if (err == 0) zc_waiter_wake(w);
  return err;
}

void zc_waiter_forget(zc_waiter *w, int fd) {
  pthread_mutex_lock(&w->mu);
  for (size_t i = 0; i < w->n; i++) {
    if (w->fds[i].fd != fd) continue;
    w->n--;
    w->fds[i] = w->fds[w->n];
    w->tokens[i] = w->tokens[w->n];
    break;
  }
  pthread_mutex_unlock(&w->mu);
  /* A poll() in progress holds a reference to what fd points at (for a
   * socket: the connection stays open). Wake it so it lets go now. */
  zc_waiter_wake(w);
}

void zc_waiter_wake(zc_waiter *w) {
  char byte = 1;
  /* A full pipe already holds a wake-up: nothing is lost. */
  (void)!write(w->wake[1], &byte, 1);
}

int zc_waiter_wait(zc_waiter *w, uint64_t *tokens, int max) {
  pthread_mutex_lock(&w->mu);
  size_t n = w->n;
  int err = grow(&w->scratch, &w->scratch_tokens, &w->scratch_cap, n + 1);
  if (err == 0) {
    w->scratch[0] = (struct pollfd){.fd = w->wake[0], .events = POLLIN};
    memcpy(w->scratch + 1, w->fds, n * sizeof *w->fds);
    memcpy(w->scratch_tokens + 1, w->tokens, n * sizeof *w->tokens);
  }
  pthread_mutex_unlock(&w->mu);
  if (err != 0) return 0;

  if (poll(w->scratch, n + 1, -1) < 0) return 0; /* EINTR */
  if (w->scratch[0].revents) {
    char drain[64];
    while (read(w->wake[0], drain, sizeof drain) > 0) {
    }
  }
  int count = 0;
  pthread_mutex_lock(&w->mu);
  for (size_t i = 1; i <= n && count < max; i++) {
    if (!w->scratch[i].revents) continue;
    /* Reported once per arming: disarm it, unless it was forgotten (or
     * forgotten and armed again under another token) while we polled. */
    for (size_t j = 0; j < w->n; j++) {
      if (w->fds[j].fd != w->scratch[i].fd || w->tokens[j] != w->scratch_tokens[i]) continue;
      w->n--;
      w->fds[j] = w->fds[w->n];
      w->tokens[j] = w->tokens[w->n];
      tokens[count++] = w->scratch_tokens[i];
      break;
    }
  }
  pthread_mutex_unlock(&w->mu);
  return count;
}
