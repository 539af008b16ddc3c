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

static void darwin_step(zc_transfer *t, void *state, zc_call *c) {
  /* Darwin gives EINVAL for an empty list behind a non-NULL pointer: the
   * loop hands empty lists as NULL, and with none there is no sf_hdtr. */
  struct sf_hdtr hdtr = {c->headers, c->nheaders, c->trailers, c->ntrailers};
  int lists = c->nheaders > 0 || c->ntrailers > 0;
  /* len counts the headers on the way in as well as on the way out; 0
   * would mean "to the end of the file", and the loop never makes a call
   * without file bytes. */
  off_t len = (off_t)(zc_iov_bytes(c->headers, c->nheaders) + c->file_len);
  t->call = "sendfile";
  int r = sendfile(t->in_fd, t->out_fd, (off_t)c->offset, &len, lists ? &hdtr : NULL, 0);
  /* The offset went in by value: len now holds the bytes sent, headers
   * included, also with EAGAIN or EINTR. */
  c->moved = (uint64_t)len;
  c->err = r == 0 ? 0 : errno;
}

const zc_backend zc_darwin_sendfile = {
    .name = "sendfile",
    .zero_copy = 1,
    .headers_trailers = "vector",
    .max_headers = ZC_IOV_BATCH,
    /* Darwin drops the file part of a call whose sf_hdtr has headers and
     * trailers (nginx, APR): trailers never ride along, the loop writes
     * them by writev after the file. */
    .max_trailers = 0,
    /* macOS's manual: a stream socket, connected; ENOTSOCK for files and
     * pipes, ENOTSUP for an input that is not a regular file. */
    .outputs = ZC_OUTPUT_SOCKETS,
    .step = darwin_step,
};
