/* The OS-neutral part of a transfer: drive a backend's step, account for
 * what it moved, and turn its results into one of a few outcomes. */
#include "../zerocopy.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <netinet/in.h>

const zc_backend *zc_find_backend(const char *name) {
  for (const zc_backend *const *b = zc_backends; *b; b++)
    if (strcmp((*b)->name, name) == 0) return *b;
  return NULL;
}

const zc_backend *zc_pick_backend(enum zc_output_kind kind) {
  for (const zc_backend *const *b = zc_backends; *b; b++)
    if ((*b)->outputs & ZC_OUTPUT(kind)) return *b;
  return NULL;
}

int zc_classify_output(int fd, enum zc_output_kind *kind) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (S_ISREG(st.st_mode)) {
    int flags = fcntl(fd, F_GETFL);
    *kind = flags >= 0 && (flags & O_APPEND) ? ZC_OUT_APPEND : ZC_OUT_FILE;
  } else if (S_ISSOCK(st.st_mode)) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int type = 0;
    socklen_t tlen = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0) return errno;
    if (type != SOCK_STREAM) return ENOTSUP;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return errno;
    /* A listening or unconnected socket never becomes writable: the
     * transfer would wait for it forever. */
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0) return errno;
    *kind = addr.ss_family == AF_INET || addr.ss_family == AF_INET6
                ? ZC_OUT_TCP
                : ZC_OUT_SOCKET;
  } else if (S_ISDIR(st.st_mode)) {
    return EISDIR;
  } else {
    *kind = ZC_OUT_PIPE;
  }
  return 0;
}

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
