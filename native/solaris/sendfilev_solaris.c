/* Solaris and illumos: sendfilev(3EXT). One call takes a vector of memory
 * buffers (SFV_FD_SELF entries) and file ranges, so the headers, the file
 * and the trailers go out in order in a single call. */
#if !defined(__sun) && !defined(ZEROCOPY_SHIM)
#error "sendfilev_solaris.c is the Solaris/illumos backend: build it there, or against test/shims/solaris.h (ZEROCOPY_SHIM)"
#endif

#include "../zerocopy.h"

#include <errno.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>

/* Entries in one call: headers, the file range and trailers share them.
 * Responses carry a few buffers at most; with more, the loop writes them
 * by writev (see .max_headers and .max_trailers). */
#define SFV_MAX 16
#define SFV_MAX_HEADERS 7
#define SFV_MAX_TRAILERS (SFV_MAX - SFV_MAX_HEADERS - 1)

/* Appends an SFV_FD_SELF entry per buffer. Empty buffers are left out:
 * the manual gives EINVAL for an sfv_len of 0. */
static void add_buffers(sendfilevec_t *vec, int *n, const struct iovec *iov, int count) {
  for (int i = 0; i < count; i++) {
    if (iov[i].iov_len == 0) continue;
    vec[*n].sfv_fd = SFV_FD_SELF;
    vec[*n].sfv_flag = 0;
    /* A memory entry carries the buffer's address where a file entry
     * carries an offset. */
    vec[*n].sfv_off = (off_t)(uintptr_t)iov[i].iov_base;
    vec[*n].sfv_len = iov[i].iov_len;
    (*n)++;
  }
}

static void solaris_step(zc_transfer *t, void *state, zc_call *c) {
  sendfilevec_t vec[SFV_MAX];
  int n = 0;
  add_buffers(vec, &n, c->headers, c->nheaders);
  vec[n].sfv_fd = t->in_fd;
  vec[n].sfv_flag = 0;
  vec[n].sfv_off = (off_t)c->offset;
  vec[n].sfv_len = (size_t)c->file_len;
  n++;
  add_buffers(vec, &n, c->trailers, c->ntrailers);

  size_t xferred = 0;
  t->call = "sendfilev";
  /* With _FILE_OFFSET_BITS=64 (the build sets it), <sys/sendfile.h> maps
   * sendfilev to sendfilev64 and sendfilevec_t to its 64-bit-offset form
   * in 32-bit compiles; 64-bit compiles have a 64-bit off_t already. */
  ssize_t r = sendfilev(t->out_fd, vec, n, &xferred);
  int err = r < 0 ? errno : 0;
  /* xferred counts what went out even when the call fails, as it can with
   * EAGAIN or EINTR after sending part of the vector. */
  c->moved = xferred;

  /* Solaris says EINVAL after moving data when the output is not a
   * SOCK_STREAM socket, or when a range runs past the end of the file:
   * count what moved; a lasting fault shows again on the next call. */
  if (err == EINVAL && xferred > 0) err = 0;
  /* At end of file Solaris 11 moves nothing and says nothing (as nginx
   * reports), the manual and illumos say EINVAL: read that EINVAL as the
   * 0 it means, so the loop sees end of file and not a refused call. */
  if (err == EINVAL && xferred == 0 && zc_file_ends_before(t, c->offset, c->file_len)) err = 0;
  c->err = err;
}

const zc_backend zc_solaris_sendfilev = {
    .name = "sendfilev",
    .zero_copy = 1,
    /* The manual names AF_INET and AF_INET6 stream sockets (and regular
     * files, which the fallbacks serve here: see README.md). */
    .outputs = ZC_OUTPUT(ZC_OUT_TCP),
    .headers_trailers = "vector",
    .max_headers = SFV_MAX_HEADERS,
    .max_trailers = SFV_MAX_TRAILERS,
    .step = solaris_step,
};
