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

static int freebsd_step(zc_transfer *t, uint64_t *moved) {
  *moved = 0;
  /* nbytes 0 means "to the end of the file", so a step with no file bytes
   * left never calls sendfile. */
  if (t->remaining == 0 || t->nheaders > ZC_IOV_BATCH) return zc_write_buffers(t, moved);

  size_t len = (size_t)zc_file_chunk(t);
  uint64_t asked = len;
  struct sf_hdtr hdtr = {NULL, 0, NULL, 0};
  if (t->nheaders > 0) {
    hdtr.headers = t->headers;
    hdtr.hdr_cnt = t->nheaders;
    asked += zc_iov_bytes(t->headers, t->nheaders);
  }
  /* Trailers ride along only behind the last of the file. */
  int with_trailers = len == t->remaining && t->ntrailers > 0 && t->ntrailers <= ZC_IOV_BATCH;
  if (with_trailers) {
    hdtr.trailers = t->trailers;
    hdtr.trl_cnt = t->ntrailers;
    asked += zc_iov_bytes(t->trailers, t->ntrailers);
    /* With the offset at or past the end of the file, FreeBSD skips the
     * headers yet sends the trailers, which would go out where the headers
     * belong: look before a call that carries both. */
    if (t->nheaders > 0 && zc_file_ends_before(t, t->offset, 1)) return ZC_ETRUNCATED;
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
  if (with_trailers && (uint64_t)sbytes < asked && zc_file_ends_before(t, t->offset, len))
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
