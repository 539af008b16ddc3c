/* HP-UX: sendfile(2), whose hdtrl[2] argument carries one header buffer
 * and one trailer buffer around the file range, in the same call. */
#if !defined(__hpux) && !defined(ZEROCOPY_SHIM)
#error "sendfile_hpux.c is the HP-UX backend: build it there, or against test/shims/hpux.h (ZEROCOPY_SHIM)"
#endif

#include "../zerocopy.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static void hpux_step(zc_transfer *t, void *state, zc_call *c) {
  /* One slot for a header, one for a trailer (hence .max_headers and
   * .max_trailers of 1: the loop writes more buffers by writev, and
   * nothing is joined into a new buffer). A NULL slot is left out. */
  struct iovec hdtrl[2] = {{NULL, 0}, {NULL, 0}};
  if (c->nheaders == 1) hdtrl[0] = c->headers[0];
  if (c->ntrailers == 1) hdtrl[1] = c->trailers[0];

  t->call = "sendfile";
  /* nbytes 0 would mean "to the end of the file": the loop never makes a
   * call without file bytes. With _FILE_OFFSET_BITS=64 (the build sets
   * it), a 32-bit compile calls sendfile64 with 64-bit offset, count and
   * result types. */
  sbsize_t n = sendfile(t->out_fd, t->in_fd, (off_t)c->offset, (bsize_t)c->file_len, hdtrl, 0);
  /* The result counts header, file and trailer bytes together; 0 means
   * the file ends at or before the offset. */
  zc_set_result(c, (ssize_t)n);
}

const zc_backend zc_hpux_sendfile = {
    .name = "sendfile",
    .zero_copy = 1,
    /* Any other socket gets EOPNOTSUPP: "the socket is not a TCP socket". */
    .outputs = ZC_OUTPUT(ZC_OUT_TCP),
    .headers_trailers = "vector",
    .max_headers = 1,
    .max_trailers = 1,
    .step = hpux_step,
};
