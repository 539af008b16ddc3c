/* macOS: sendfile(2) with a struct sf_hdtr for the headers, which go out in
 * the same call as the file range. Trailers follow by writev. */
#if !defined(__APPLE__) && !defined(ZEROCOPY_SHIM)
#error "sendfile_darwin.c is the macOS backend: build it there, or against test/shims/darwin.h (ZEROCOPY_SHIM)"
#endif

#include "../zerocopy.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int darwin_step(zc_transfer *t, uint64_t *moved) {
  *moved = 0;
  /* A len of 0 means "to the end of the file", so a step with no file bytes
   * left never calls sendfile; trailers always go this way, because Darwin
   * drops the file part of a call whose sf_hdtr has headers and trailers. */
  if (t->remaining == 0 || t->nheaders > ZC_IOV_BATCH) return zc_write_buffers(t, moved);

  uint64_t file_len = zc_file_chunk(t);
  /* Darwin gives EINVAL for an empty list behind a non-NULL pointer: no
   * headers, no sf_hdtr at all. */
  struct sf_hdtr hdtr = {t->headers, t->nheaders, NULL, 0};
  /* len counts the headers on the way in as well as on the way out. */
  off_t len = (off_t)(zc_iov_bytes(t->headers, t->nheaders) + file_len);
  t->call = "sendfile";
  int r = sendfile(t->in_fd, t->out_fd, (off_t)t->offset, &len,
                   t->nheaders > 0 ? &hdtr : NULL, 0);
  int err = r == 0 ? 0 : errno;
  /* The offset went in by value: len now holds the bytes sent, headers
   * included, also with EAGAIN or EINTR. */
  *moved = (uint64_t)len;

  /* Success with nothing sent: the file ends at or before our offset. The
   * loop only sees end of file once headers are done, so say it here. */
  if (err == 0 && len == 0) return ZC_ETRUNCATED;
  return err;
}

const zc_backend zc_darwin_sendfile = {
    .name = "sendfile",
    .zero_copy = 1,
    /* A connected stream socket; files and pipes get EINVAL or ENOTSOCK. */
    .outputs = ZC_OUTPUT_SOCKETS,
    .headers_trailers = "vector",
    .begin = NULL,
    .step = darwin_step,
    .end = NULL,
};
