/* The OS-neutral part of a transfer: decide what each call carries, make
 * it through the backend's step (or write the buffers the backend's call
 * cannot carry), account for what moved, and turn the results into one of
 * a few outcomes. Every rule about what a result means lives here. */
#include "../zerocopy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>

uint64_t zc_iov_bytes(const struct iovec *iov, int n) {
  uint64_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  return total;
}

void zc_set_result(zc_call *c, ssize_t n) {
  c->moved = n < 0 ? 0 : (uint64_t)n;
  c->err = n < 0 ? errno : 0;
}

void zc_write_buffers(zc_transfer *t, zc_call *c) {
  struct iovec iov[ZC_IOV_BATCH];
  int n = 0;
  for (int i = 0; i < c->nheaders && n < ZC_IOV_BATCH; i++) iov[n++] = c->headers[i];
  for (int i = 0; i < c->ntrailers && n < ZC_IOV_BATCH; i++) iov[n++] = c->trailers[i];
  t->call = "writev";
  zc_set_result(c, writev(t->out_fd, iov, n));
}

int zc_file_ends_before(const zc_transfer *t, uint64_t off, uint64_t len) {
  struct stat st;
  return fstat(t->in_fd, &st) == 0 && (uint64_t)st.st_size < off + len;
}

int zc_state_new(void **state, void *room, size_t room_size, size_t size) {
  *state = NULL;
  if (size > 0 && size <= room_size) {
    memset(room, 0, room_size);
    *state = room;
  } else if (size > 0 && (*state = calloc(1, size)) == NULL) {
    return ENOMEM;
  }
  return 0;
}

void zc_state_free(void *state, const void *room) {
  if (state != room) free(state);
}

int zc_begin(zc_transfer *t, const zc_backend *b) {
  t->backend = b;
  t->backend_moved = 0;
  t->call = "malloc";
  int err = zc_state_new(&t->state, &t->state_room, sizeof t->state_room, b->state_size);
  if (err != 0) return err;
  return b->begin ? b->begin(t, t->state) : 0;
}

void zc_end(zc_transfer *t) {
  const zc_backend *b = t->backend;
  /* No state where the backend wants some: its begin never ran. */
  if (b && b->end && (t->state || b->state_size == 0)) b->end(t, t->state);
  zc_state_free(t->state, &t->state_room);
  t->state = NULL;
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
  /* Zero-length entries left at the front would make a call send nothing. */
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

/* Puts the first n buffers of a list into a call; an empty list is NULL. */
static void carry(struct iovec **to, int *count, struct iovec *from, int n) {
  *to = n > 0 ? from : NULL;
  *count = n;
}

static uint64_t min64(uint64_t a, uint64_t b) { return a < b ? a : b; }

/* Decides what the next call carries and makes it. */
static void make_call(zc_transfer *t, uint64_t budget, zc_call *c) {
  const zc_backend *b = t->backend;
  memset(c, 0, sizeof *c);
  if (t->remaining > 0 && t->nheaders <= b->max_headers) {
    /* The backend's own call: the headers, the next chunk of the file, and
     * the trailers behind the last chunk when the call carries them all. */
    carry(&c->headers, &c->nheaders, t->headers, t->nheaders);
    c->offset = t->offset;
    c->file_len = min64(min64(t->remaining, budget), ZC_MAX_CHUNK);
    if (c->file_len == t->remaining && t->ntrailers <= b->max_trailers)
      carry(&c->trailers, &c->ntrailers, t->trailers, t->ntrailers);
    b->step(t, t->state, c);
    return;
  }
  /* Buffers alone: no file bytes are due, or more headers than the call
   * carries. One batch of headers, joined by the trailers when no file
   * bytes lie between them. */
  int nheaders = t->nheaders < ZC_IOV_BATCH ? t->nheaders : ZC_IOV_BATCH;
  carry(&c->headers, &c->nheaders, t->headers, nheaders);
  if (t->remaining == 0 && nheaders == t->nheaders) {
    int room = ZC_IOV_BATCH - nheaders;
    carry(&c->trailers, &c->ntrailers, t->trailers, t->ntrailers < room ? t->ntrailers : room);
  }
  if (t->remaining > 0 && b->send_headers)
    b->send_headers(t, t->state, c);
  else
    zc_write_buffers(t, c);
}

/* The errors with which a call says it cannot do this transfer at all, as
 * Go's internal/poll sendfile reads them; the Linux manual suggests falling
 * back to read/write on EINVAL and ENOSYS, and the FreeBSD and macOS
 * manuals give EOPNOTSUPP for a file system without sendfile support. */
static int is_refusal(int err) {
  return err == ENOSYS || err == EINVAL || err == EOPNOTSUPP || err == ENOTSUP;
}

/* Hands the transfer to the next backend that can write to its output,
 * from where it stands. Returns 0, or `refusal` when there is none. */
static int fall_back(zc_transfer *t, int refusal) {
  const zc_backend *const *b = zc_backends;
  while (*b && *b != t->backend) b++;
  if (*b == NULL) return refusal;
  for (b++; *b; b++)
    if ((*b)->outputs & ZC_OUTPUT(t->out_kind)) break;
  if (*b == NULL) return refusal;
  zc_end(t);
  return zc_begin(t, *b);
}

int zc_run(zc_transfer *t, uint64_t budget) {
  uint64_t moved_here = 0;
  consume_iov(&t->headers, &t->nheaders, 0);
  consume_iov(&t->trailers, &t->ntrailers, 0);
  while (!zc_done(t)) {
    if (moved_here >= budget) return EINPROGRESS;
    zc_call c;
    make_call(t, budget - moved_here, &c);
    /* Counted before advance() consumes the buffers the call points into. */
    uint64_t asked = zc_iov_bytes(c.headers, c.nheaders) + c.file_len +
                     zc_iov_bytes(c.trailers, c.ntrailers);
    advance(t, c.moved);
    moved_here += c.moved;

    if (c.file_len > 0) {
      t->backend_moved += c.moved;
      /* A call that carried file bytes and moved nothing without an error
       * has met the end of the file: it is shorter than it was when the
       * transfer was planned (nginx and APR read sendfile's 0 so). */
      if (c.moved == 0 && c.err == 0) return ZC_ETRUNCATED;
      /* Some kernels send the trailers even behind a file that came up
       * short, so a short count from a call that carried them can hold
       * trailer bytes where file bytes were due: the file's size tells. */
      if (c.ntrailers > 0 && c.moved < asked && zc_file_ends_before(t, c.offset, c.file_len))
        return ZC_ETRUNCATED;
      /* Refused before this backend's call ever moved a byte: the next
       * backend carries on from where the transfer stands. */
      if (is_refusal(c.err) && t->backend_moved == 0 && t->may_fall_back) {
        int err = fall_back(t, c.err);
        if (err != 0) return err;
        continue;
      }
    }

    if (c.err == EINTR) continue;
    /* Some systems say EAGAIN after moving bytes; what moved is counted
     * above, and a finished transfer is finished whatever came with it. */
    if (c.err == EAGAIN || c.err == EWOULDBLOCK) return zc_done(t) ? 0 : EAGAIN;
    if (c.err != 0) return c.err;
  }
  return 0;
}
