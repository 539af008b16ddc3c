/* FreeBSD and DragonFly: sendfile(2) with a struct sf_hdtr, which carries
 * header and trailer buffers around the file range in the same call. */
#if !defined(__FreeBSD__) && !defined(__DragonFly__) && !defined(ZEROCOPY_SHIM)
#error "sendfile_freebsd.c is the FreeBSD/DragonFly backend: build it there, or against test/shims/freebsd.h (ZEROCOPY_SHIM)"
#endif

#include "../zerocopy.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static void freebsd_step(zc_transfer *t, void *state, zc_call *c) {
  /* With the offset at or past the end of the file, FreeBSD skips the
   * headers yet sends the trailers, which would go out where the headers
   * belong. Then the trailers stay out of the call: it moves nothing, and
   * the loop reports the file as truncated. */
  if (c->nheaders > 0 && c->ntrailers > 0 && zc_file_ends_before(t, c->offset, 1)) {
    c->trailers = NULL;
    c->ntrailers = 0;
  }
  struct sf_hdtr hdtr = {c->headers, c->nheaders, c->trailers, c->ntrailers};
  int lists = c->nheaders > 0 || c->ntrailers > 0;

  off_t sbytes = 0;
  t->call = "sendfile";
  /* nbytes 0 would mean "to the end of the file": the loop never makes a
   * call without file bytes. flags 0: without SF_NODISKIO the call may
   * wait for the disk and never says EBUSY; it runs on the driver thread
   * (sockets are this backend's only outputs), which never waits for a
   * peer but may for the disk, like nginx without aio. */
  int r = sendfile(t->in_fd, t->out_fd, (off_t)c->offset, (size_t)c->file_len,
                   lists ? &hdtr : NULL, &sbytes, 0);
  c->err = r == 0 ? 0 : errno;
  /* The offset went in by value: progress comes back in sbytes, headers and
   * trailers included, also with EAGAIN, EINTR or EBUSY. */
  c->moved = (uint64_t)sbytes;
}

const zc_backend zc_freebsd_sendfile = {
    .name = "sendfile",
    .zero_copy = 1,
    /* FreeBSD's manual: "out a stream socket", connected; ENOTSOCK for
     * files and pipes, EINVAL for sockets of another type. */
    .outputs = ZC_OUTPUT_SOCKETS,
    .headers_trailers = "vector",
    .max_headers = ZC_IOV_BATCH,
    .max_trailers = ZC_IOV_BATCH,
    .step = freebsd_step,
};
