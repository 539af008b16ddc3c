/* HP-UX: sendfile(2), whose hdtrl[2] argument carries one header buffer
 * and one trailer buffer around the file range, in the same call. */
#if !defined(__hpux) && !defined(ZEROCOPY_SHIM)
#error "sendfile_hpux.c is the HP-UX backend: build it there, or against test/shims/hpux.h (ZEROCOPY_SHIM)"
#endif

#include "../zerocopy.h"

#include <errno.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

static int hpux_step(zc_transfer *t, uint64_t *moved) {
  *moved = 0;
  /* nbytes 0 means "to the end of the file" here, so a step with no file
   * bytes left never calls sendfile. hdtrl has one slot for headers: more
   * than one header buffer goes out by writev first, nothing is joined. */
  if (t->remaining == 0 || t->nheaders > 1) return zc_write_buffers(t, moved);

  uint64_t len = zc_file_chunk(t);
  uint64_t asked = len;
  struct iovec hdtrl[2] = {{NULL, 0}, {NULL, 0}};
  if (t->nheaders == 1) {
    hdtrl[0] = t->headers[0];
    asked += hdtrl[0].iov_len;
  }
  /* The trailer rides along only behind the last of the file, and only
   * when it is one buffer; otherwise writev sends it afterwards. */
  int with_trailer = len == t->remaining && t->ntrailers == 1;
  if (with_trailer) {
    hdtrl[1] = t->trailers[0];
    asked += hdtrl[1].iov_len;
  }

  t->call = "sendfile";
  /* With _FILE_OFFSET_BITS=64 (the build sets it), a 32-bit compile calls
   * sendfile64 with 64-bit offset, count and result types. */
  sbsize_t n = sendfile(t->out_fd, t->in_fd, (off_t)t->offset, (bsize_t)len, hdtrl, 0);
  if (n < 0) return errno;
  /* The result counts header, file and trailer bytes together. */
  *moved = (uint64_t)n;

  /* Nothing moved without an error: the file ends at or before our offset.
   * The loop only sees end of file once headers are done, so say it here. */
  if (n == 0) return ZC_ETRUNCATED;
  /* A short count with the trailer in the call must not let trailer bytes
   * stand for file bytes that a shrunken file never supplied. */
  if (with_trailer && (uint64_t)n < asked && zc_file_ends_before(t, t->offset, len)) return ZC_ETRUNCATED;
  return 0;
}

const zc_backend zc_hpux_sendfile = {
    .name = "sendfile",
    .zero_copy = 1,
    /* Any other socket gets EOPNOTSUPP: "the socket is not a TCP socket". */
    .outputs = ZC_OUTPUT(ZC_OUT_TCP),
    .headers_trailers = "vector",
    .begin = NULL,
    .step = hpux_step,
    .end = NULL,
};
