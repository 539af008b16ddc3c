/* mmap(2) + write(2): the file is mapped a window at a time (never whole)
 * and written from the mapping, which saves the copy into a user buffer.
 *
 * The classic trap is another process truncating the file: touching the
 * mapping past the new end raises SIGBUS. We never touch it ourselves; the
 * kernel reads it inside write(), where a missing page makes write return
 * short or fail with EFAULT instead: we then write up to the new end and
 * report "truncated".
 *
 * A transfer that asks (t->lease) also takes a read lease where the kernel
 * grants one (lease.h), so that another process opening the file for
 * writing or truncating it stops the transfer before the file changes
 * under it. Not by default: it costs four fcntl calls and one per step, and
 * while it is held an opener with O_NONBLOCK (coreutils truncate) fails
 * with EAGAIN. */
#define _GNU_SOURCE
#include "../lease.h"
#include "../zerocopy.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define MMAP_WINDOW (8u << 20)

struct mmap_state {
  void *map;       /* the mapped window of the input */
  uint64_t offset; /* file offset of the window */
  size_t len;
  int lease;       /* 1 while we hold a read lease */
};

static void take_lease(zc_transfer *t, struct mmap_state *s) {
  if (t->lease) s->lease = zc_lease_take(t->in_fd);
}

/* Broken, or already given up when the kernel announced the break. */
static int lease_broken(zc_transfer *t, struct mmap_state *s) {
  return s->lease && zc_lease_broken(t->in_fd);
}

static void drop_lease(zc_transfer *t, struct mmap_state *s) {
  /* Releasing promptly lets the process that broke the lease go on. */
  if (s->lease) zc_lease_drop(t->in_fd);
  s->lease = 0;
}


static void unmap(struct mmap_state *s) {
  if (s->map) munmap(s->map, s->len);
  s->map = NULL;
  s->len = 0;
}

/* Maps the window that holds `offset`, up to the end of the range. */
static int map_window(zc_transfer *t, struct mmap_state *s, uint64_t offset) {
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  uint64_t start = offset - offset % page;
  uint64_t end = t->offset + t->remaining;
  size_t len = end - start < MMAP_WINDOW ? (size_t)(end - start) : MMAP_WINDOW;
  unmap(s);
  void *p = mmap(NULL, len, PROT_READ, MAP_SHARED, t->in_fd, (off_t)start);
  if (p == MAP_FAILED) return errno;
  s->map = p;
  s->offset = start;
  s->len = len;
  return 0;
}

static int mmap_begin(zc_transfer *t, void *state) {
  if (t->remaining > 0) take_lease(t, state);
  return 0;
}

static void mmap_end(zc_transfer *t, void *state) {
  unmap(state);
  drop_lease(t, state);
}

static void mmap_step(zc_transfer *t, void *state, zc_call *c) {
  struct mmap_state *s = state;
  if (lease_broken(t, s)) {
    /* Another process is about to write or truncate the file: stop before
     * it changes under the transfer. */
    drop_lease(t, s);
    c->err = ZC_ETRUNCATED;
    return;
  }
  if (!s->map || c->offset < s->offset || c->offset >= s->offset + s->len) {
    t->call = "mmap";
    c->err = map_window(t, s, c->offset);
    if (c->err) return;
  }
  size_t at = (size_t)(c->offset - s->offset);
  size_t len = s->len - at;
  if (len > c->file_len) len = (size_t)c->file_len;
  t->call = "write";
  ssize_t n = write(t->out_fd, (char *)s->map + at, len);
  /* EFAULT: the mapping has no page somewhere in what we asked to write,
   * the file ends before it does now (a socket takes nothing from a copy
   * that faults part-way, even when the first pages were still there). */
  if (n < 0 && errno == EFAULT) {
    struct stat st;
    if (fstat(t->in_fd, &st) != 0 || (uint64_t)st.st_size >= c->offset + len) {
      c->err = EFAULT;
      return;
    }
    /* Up to the new end, then (next step, or now if it shrank again)
     * moving nothing without an error, which is how a call says end of
     * file. */
    n = (uint64_t)st.st_size > c->offset ? write(t->out_fd, (char *)s->map + at, (size_t)((uint64_t)st.st_size - c->offset)) : 0;
    if (n < 0 && errno == EFAULT) n = 0;
  }
  zc_set_result(c, n);
}

const zc_backend zc_fallback_mmap = {
    .name = "mmap",
    .zero_copy = 0,
    .outputs = ZC_OUTPUT_ANY,
    .headers_trailers = "copy",
    /* write(2) carries file bytes only. */
    .max_headers = 0,
    .max_trailers = 0,
    .state_size = sizeof(struct mmap_state),
    .begin = mmap_begin,
    .step = mmap_step,
    .end = mmap_end,
};
