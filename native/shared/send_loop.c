/* The OS-neutral part of a transfer: drive a backend's step, account for
 * what it moved, and turn its results into one of a few outcomes. */
#include "../zerocopy.h"

#include <errno.h>
#include <sys/stat.h>
#include <sys/uio.h>

uint64_t zc_iov_bytes(const struct iovec *iov, int n) {
  uint64_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  return total;
}

int zc_write_buffers(zc_transfer *t, uint64_t *moved) {
  struct iovec iov[ZC_IOV_BATCH];
  int n = 0;
  *moved = 0;
  for (int i = 0; i < t->nheaders && n < ZC_IOV_BATCH; i++) iov[n++] = t->headers[i];
  if (n == t->nheaders && t->remaining == 0)
    for (int i = 0; i < t->ntrailers && n < ZC_IOV_BATCH; i++) iov[n++] = t->trailers[i];
  t->call = "writev";
  ssize_t w = writev(t->out_fd, iov, n);
  if (w < 0) return errno;
  *moved = (uint64_t)w;
  return 0;
}

int zc_file_ends_before(const zc_transfer *t, uint64_t off, uint64_t len) {
  struct stat st;
  return fstat(t->in_fd, &st) == 0 && (uint64_t)st.st_size < off + len;
}

/* Drops `n` bytes from the front of an iovec array. */
static uint64_t consume_iov(struct iovec **iov, int *count, uint64_t n) {
  uint64_t used = 0;
  while (*count > 0 && n > 0) {
    struct iovec *v = *iov;
    if (n < v->iov_len) {
      v->iov_base = (char *)v->iov_base + n;
      v->iov_len -= n;
      return used + n;
    }
    n -= v->iov_len;
    used += v->iov_len;
    (*iov)++;
    (*count)--;
  }
  /* Zero-length entries left at the front would make a step send nothing. */
  while (*count > 0 && (*iov)->iov_len == 0) {
    (*iov)++;
    (*count)--;
  }
  return used;
}

static void advance(zc_transfer *t, uint64_t n) {
  t->sent += n;
  n -= consume_iov(&t->headers, &t->nheaders, n);
  if (t->nheaders > 0) return;
  uint64_t file = n < t->remaining ? n : t->remaining;
  t->offset += file;
  t->remaining -= file;
  n -= file;
  consume_iov(&t->trailers, &t->ntrailers, n);
}

int zc_run(const zc_backend *b, zc_transfer *t, uint64_t budget) {
  uint64_t moved_here = 0;
  consume_iov(&t->headers, &t->nheaders, 0);
  consume_iov(&t->trailers, &t->ntrailers, 0);
  while (!zc_done(t)) {
    if (moved_here >= budget) return EINPROGRESS;
    uint64_t left = budget - moved_here;
    t->chunk_limit = left < ZC_MAX_CHUNK ? left : ZC_MAX_CHUNK;

    int file_pending = t->nheaders == 0 && t->remaining > 0;
    uint64_t moved = 0;
    int err = b->step(t, &moved);
    advance(t, moved);
    moved_here += moved;

    if (err == EINTR) continue;
    /* Some systems say EAGAIN after moving bytes; what moved is counted
     * above, and a finished transfer is finished whatever came with it. */
    if (err == EAGAIN || err == EWOULDBLOCK) return zc_done(t) ? 0 : EAGAIN;
    if (err != 0) return err;
    /* A file step that moves nothing without an error has hit end of file:
     * the file is shorter than it was when the transfer was planned. */
    if (moved == 0 && file_pending) return ZC_ETRUNCATED;
  }
  return 0;
}
