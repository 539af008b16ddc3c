/* The universal path: pread(2) into one reusable buffer, then write(2).
 * Every byte crosses into user space and back, but it works on any
 * system, any output and any input that can be read at an offset. */
#define _GNU_SOURCE
#include "../zerocopy.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define READWRITE_BUFFER (256 * 1024)

struct readwrite_state {
  void *buf;
  size_t len;
};

static int readwrite_begin(zc_transfer *t, void *state) {
  struct readwrite_state *s = state;
  if (t->remaining == 0) return 0;
  s->len = t->remaining < READWRITE_BUFFER ? (size_t)t->remaining : READWRITE_BUFFER;
  t->call = "malloc";
  s->buf = malloc(s->len);
  return s->buf ? 0 : ENOMEM;
}

static void readwrite_end(zc_transfer *t, void *state) {
  struct readwrite_state *s = state;
  free(s->buf);
  s->buf = NULL;
}

static void readwrite_step(zc_transfer *t, void *state, zc_call *c) {
  struct readwrite_state *s = state;
  size_t len = c->file_len < s->len ? (size_t)c->file_len : s->len;
  t->call = "pread";
  ssize_t got = pread(t->in_fd, s->buf, len, (off_t)c->offset);
  /* 0 from pread is end of file: moving nothing without an error says so. */
  if (got <= 0) {
    zc_set_result(c, got);
    return;
  }
  /* A short write leaves the rest unsent; the next call reads it again from
   * the advanced offset rather than keeping bytes between calls. */
  t->call = "write";
  zc_set_result(c, write(t->out_fd, s->buf, (size_t)got));
}

const zc_backend zc_fallback_readwrite = {
    .name = "readwrite",
    .zero_copy = 0,
    .outputs = ZC_OUTPUT_ANY,
    .headers_trailers = "copy",
    /* write(2) carries file bytes only. */
    .max_headers = 0,
    .max_trailers = 0,
    .state_size = sizeof(struct readwrite_state),
    .begin = readwrite_begin,
    .step = readwrite_step,
    .end = readwrite_end,
};
