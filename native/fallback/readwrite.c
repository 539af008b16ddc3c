/* The universal path: pread(2) into one reusable buffer, then write(2).
 * Every byte crosses into user space and back, but it works on any
 * system, any output and any input that can be read at an offset. */
#define _GNU_SOURCE
#include "../zerocopy.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#define READWRITE_BUFFER (256 * 1024)

static int readwrite_begin(zc_transfer *t) {
  if (t->remaining == 0) return 0;
  t->scratch_len = t->remaining < READWRITE_BUFFER ? (size_t)t->remaining
                                                   : READWRITE_BUFFER;
  t->call = "malloc";
  t->scratch = malloc(t->scratch_len);
  return t->scratch ? 0 : ENOMEM;
}

static void readwrite_end(zc_transfer *t) {
  free(t->scratch);
  t->scratch = NULL;
}

static int readwrite_step(zc_transfer *t, uint64_t *moved) {
  if (t->nheaders > 0 || t->remaining == 0) return zc_write_buffers(t, moved);
  *moved = 0;
  size_t len = zc_file_chunk(t) < t->scratch_len ? (size_t)zc_file_chunk(t)
                                                 : t->scratch_len;
  t->call = "pread";
  ssize_t got = pread(t->in_fd, t->scratch, len, (off_t)t->offset);
  if (got <= 0) return got == 0 ? 0 : errno;
  /* A short write leaves the rest unsent; the next step reads it again from
   * the advanced offset rather than keeping state between steps. */
  t->call = "write";
  ssize_t n = write(t->out_fd, t->scratch, (size_t)got);
  if (n < 0) return errno;
  *moved = (uint64_t)n;
  return 0;
}

const zc_backend zc_fallback_readwrite = {
    .name = "readwrite",
    .zero_copy = 0,
    .outputs = ZC_OUTPUT_ANY,
    .headers_trailers = "copy",
    .begin = readwrite_begin,
    .step = readwrite_step,
    .end = readwrite_end,
};
