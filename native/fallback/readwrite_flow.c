/* The universal mover: read(2) into a buffer, then write it out as the
 * output takes bytes (zc_flow_write). Every byte crosses into user space
 * and back, on the driver thread, never through JavaScript; it works with
 * any input and any output. The buffer lives while it holds bytes, so an
 * idle relay holds none. */
#include "../flow.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Under glibc's mmap threshold: a buffer made and freed per burst costs no
 * mmap and munmap. */
#define FLOW_BUFFER (64 * 1024)

struct copy_state {
  char *buf;
  size_t start; /* where the held bytes begin in buf */
};

static void copy_fill(zc_flow *f, void *state, uint64_t max, zc_move *m) {
  struct copy_state *s = state;
  if (s->buf == NULL && (s->buf = malloc(FLOW_BUFFER)) == NULL) {
    f->call = "malloc";
    m->err = ENOMEM;
    return;
  }
  s->start = 0;
  f->call = "read";
  ssize_t n = read(f->in_fd, s->buf, max < FLOW_BUFFER ? (size_t)max : FLOW_BUFFER);
  m->read = n > 0 ? (uint64_t)n : 0;
  m->err = n < 0 ? errno : 0;
  if (n <= 0) {
    free(s->buf);
    s->buf = NULL;
  }
}

static void copy_drain(zc_flow *f, void *state, zc_move *m) {
  struct copy_state *s = state;
  zc_flow_write(f, s->buf + s->start, (size_t)f->held, m);
  s->start += (size_t)m->written;
  if (m->written == f->held) {
    free(s->buf);
    s->buf = NULL;
  }
}

static void copy_end(zc_flow *f, void *state) {
  struct copy_state *s = state;
  free(s->buf);
  s->buf = NULL;
}

const zc_mover zc_mover_readwrite = {
    .name = "readwrite",
    .zero_copy = 0,
    .inputs = ZC_INPUT_ANY,
    .outputs = ZC_OUTPUT_ANY,
    .state_size = sizeof(struct copy_state),
    .fill = copy_fill,
    .drain = copy_drain,
    .end = copy_end,
};
