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

/* Entries in one call. Headers and trailers are a few buffers at most;
 * when there are more, the vector stops early and the loop calls again. */
#define SFV_MAX 16

/* Appends an SFV_FD_SELF entry per buffer while the vector has room and
 * returns how many buffers it took. Empty buffers are left out: the manual
 * gives EINVAL for an sfv_len of 0. */
static int add_buffers(sendfilevec_t *vec, int *n, uint64_t *bytes,
                       const struct iovec *iov, int count) {
  int i;
  for (i = 0; i < count && *n < SFV_MAX; i++) {
    if (iov[i].iov_len == 0) continue;
    vec[*n].sfv_fd = SFV_FD_SELF;
    vec[*n].sfv_flag = 0;
    /* A memory entry carries the buffer's address where a file entry
     * carries an offset. */
    vec[*n].sfv_off = (off_t)(uintptr_t)iov[i].iov_base;
    vec[*n].sfv_len = iov[i].iov_len;
    *bytes += iov[i].iov_len;
    (*n)++;
  }
  return i;
}

static int solaris_step(zc_transfer *t, uint64_t *moved) {
  sendfilevec_t vec[SFV_MAX];
  int n = 0;
  uint64_t asked = 0;
  uint64_t file_len = 0;
  int with_trailers = 0;
  *moved = 0;

  int all_headers = add_buffers(vec, &n, &asked, t->headers, t->nheaders) == t->nheaders;
  if (all_headers && t->remaining > 0 && n < SFV_MAX) {
    file_len = zc_file_chunk(t);
    vec[n].sfv_fd = t->in_fd;
    vec[n].sfv_flag = 0;
    vec[n].sfv_off = (off_t)t->offset;
    vec[n].sfv_len = (size_t)file_len;
    asked += file_len;
    n++;
  }
  /* Trailers ride along only behind the last of the file. */
  if (all_headers && file_len == t->remaining && t->ntrailers > 0 && n < SFV_MAX) {
    int before = n;
    add_buffers(vec, &n, &asked, t->trailers, t->ntrailers);
    with_trailers = n > before;
  }

  size_t xferred = 0;
  t->call = "sendfilev";
  /* With _FILE_OFFSET_BITS=64 (the build sets it), <sys/sendfile.h> maps
   * sendfilev to sendfilev64 and sendfilevec_t to its 64-bit-offset form
   * in 32-bit compiles; 64-bit compiles have a 64-bit off_t already. */
  ssize_t r = sendfilev(t->out_fd, vec, n, &xferred);
  int err = r < 0 ? errno : 0;
  /* xferred counts what went out even when the call fails, as it can with
   * EAGAIN or EINTR after sending part of the vector. */
  *moved = xferred;

  /* Solaris says EINVAL after moving data when the output is not a
   * SOCK_STREAM socket, or when a range runs past the end of the file:
   * count what moved; a lasting fault shows again on the next call. */
  if (err == EINVAL && xferred > 0) err = 0;
  if (file_len > 0 && xferred == 0 && (err == 0 || err == EINVAL)) {
    /* Nothing moved and no transient error: the file ends at or before our
     * offset (Solaris 11 says so with 0, older releases with EINVAL). The
     * loop only sees end of file once headers are done, so say it here. */
    if (err == 0 || zc_file_ends_before(t, t->offset, file_len)) return ZC_ETRUNCATED;
  }
  /* A short count with trailers in the vector must not let trailer bytes
   * stand for file bytes that a shrunken file never supplied. */
  if (with_trailers && xferred < asked && zc_file_ends_before(t, t->offset, file_len))
    return ZC_ETRUNCATED;
  return err;
}

const zc_backend zc_solaris_sendfilev = {
    .name = "sendfilev",
    .zero_copy = 1,
    /* The manual names AF_INET and AF_INET6 stream sockets (and regular
     * files, which the fallbacks serve here: see README.md). */
    .outputs = ZC_OUTPUT(ZC_OUT_TCP),
    .headers_trailers = "vector",
    .begin = NULL,
    .step = solaris_step,
    .end = NULL,
};
