/* FreeBSD and DragonFly: sendfile(2) with a struct sf_hdtr, which carries
 * header and trailer buffers around the file range in the same call. */
#if !defined(__FreeBSD__) && !defined(__DragonFly__) && !defined(ZEROCOPY_SHIM)
#error "sendfile_freebsd.c is the FreeBSD/DragonFly backend: build it there, or against test/shims/freebsd.h (ZEROCOPY_SHIM)"
#endif

#include "../zerocopy.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

/* Buffers per list in one call. When there are more, the loop calls again. */
#define IOV_BATCH 16

/* Whether the input now ends before [off, off + len) does. */
static int file_short(const zc_transfer *t, uint64_t off, uint64_t len) {
  struct stat st;
  return fstat(t->in_fd, &st) == 0 && (uint64_t)st.st_size < off + len;
}

static uint64_t iov_bytes(const struct iovec *iov, int n) {
  uint64_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  return total;
}

/* Headers, then the trailers too when no file bytes lie between them, in
 * one writev. */
static int write_buffers(zc_transfer *t, uint64_t *moved) {
  struct iovec iov[IOV_BATCH];
  int n = 0;
  for (int i = 0; i < t->nheaders && n < IOV_BATCH; i++) iov[n++] = t->headers[i];
  if (n == t->nheaders && t->remaining == 0)
    for (int i = 0; i < t->ntrailers && n < IOV_BATCH; i++) iov[n++] = t->trailers[i];
  t->call = "writev";
  ssize_t w = writev(t->out_fd, iov, n);
  if (w < 0) return errno;
  *moved = (uint64_t)w;
  return 0;
}

static int freebsd_step(zc_transfer *t, uint64_t *moved) {
  *moved = 0;
  /* nbytes 0 means "to the end of the file", so a step with no file bytes
   * left never calls sendfile. */
  if (t->remaining == 0 || t->nheaders > IOV_BATCH) return write_buffers(t, moved);

  size_t len = (size_t)zc_file_chunk(t);
  uint64_t asked = len;
  struct sf_hdtr hdtr = {NULL, 0, NULL, 0};
  if (t->nheaders > 0) {
    hdtr.headers = t->headers;
    hdtr.hdr_cnt = t->nheaders;
    asked += iov_bytes(t->headers, t->nheaders);
  }
  /* Trailers ride along only behind the last of the file. */
  int with_trailers = len == t->remaining && t->ntrailers > 0 && t->ntrailers <= IOV_BATCH;
  if (with_trailers) {
    hdtr.trailers = t->trailers;
    hdtr.trl_cnt = t->ntrailers;
    asked += iov_bytes(t->trailers, t->ntrailers);
  }

  off_t sbytes = 0;
  t->call = "sendfile";
  /* flags 0: without SF_NODISKIO there is no EBUSY; the step runs on a
   * threadpool thread, where waiting for the disk is allowed. */
  int r = sendfile(t->in_fd, t->out_fd, (off_t)t->offset, len,
                   hdtr.hdr_cnt > 0 || hdtr.trl_cnt > 0 ? &hdtr : NULL, &sbytes, 0);
  int err = r == 0 ? 0 : errno;
  /* The offset went in by value: progress comes back in sbytes, headers and
   * trailers included, also with EAGAIN, EINTR or EBUSY. */
  *moved = (uint64_t)sbytes;

  /* Success with nothing sent: the file ends at or before our offset. The
   * loop only sees end of file once headers are done, so say it here. */
  if (err == 0 && sbytes == 0) return ZC_ETRUNCATED;
  /* The kernel sends trailers even after a file that came up short (and
   * skips the headers when the offset is already past the end), so a short
   * count can hold trailer bytes where file bytes were due: the file's
   * size tells which. */
  if (with_trailers && (uint64_t)sbytes < asked && file_short(t, t->offset, len))
    return ZC_ETRUNCATED;
  return err;
}

const zc_backend zc_freebsd_sendfile = {
    .name = "sendfile",
    .zero_copy = 1,
    /* A connected stream socket; files and pipes get EINVAL or ENOTSOCK. */
    .outputs = ZC_OUTPUT_SOCKETS,
    .headers_trailers = "vector",
    .begin = NULL,
    .step = freebsd_step,
    .end = NULL,
};
