/* FreeBSD sendfile(2) on Linux, for shim builds. Test code: never shipped.
 *
 * Models:
 * - sendfile(fd, s, offset, nbytes, hdtr, sbytes, flags) with headers and
 *   trailers from struct sf_hdtr (a NULL list pointer means none), the
 *   offset by value and never updated.
 * - nbytes 0 means "from offset to the end of the file", for real: a
 *   backend that passes 0 for "no file bytes" sends the rest of the file.
 * - Progress in *sbytes (when not NULL), headers and trailers included,
 *   also when the call returns -1 with EAGAIN or EINTR after moving bytes.
 * - Arguments: ENOTSOCK when s is not a socket, EINVAL when it is not a
 *   SOCK_STREAM socket, ENOTCONN when it is not connected, EBADF for a bad
 *   or unreadable fd, EINVAL when fd is not a regular file, for a negative
 *   offset and for any flags.
 * - A call that refuses (ZEROCOPY_SHIM_REFUSE, see shim.h): -1 with that
 *   errno after the argument checks, nothing sent, *sbytes 0.
 * - End of file, as kern_sendfile.c does it: the range is cut at the size
 *   the file has when the call starts, the call succeeds, and the trailers
 *   are still sent after the short file; with the offset at or past the end
 *   the headers are skipped and only the trailers go out. So a short
 *   *sbytes does not say which bytes were left out.
 *
 * Simpler than the real system: SF_NODISKIO/EBUSY, SF_NOCACHE, SF_SYNC and
 * readahead flags are refused rather than modelled; more than 64 buffers in
 * a list give EINVAL (the real limit is 1024); a file that shrinks during
 * the call ends it there, without the trailers; old kernels whose nbytes
 * counted the headers are not modelled. */
#define _GNU_SOURCE
#include "freebsd.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "shim.h"

#define LIST_MAX 64

int sendfile(int fd, int s, off_t offset, size_t nbytes, struct sf_hdtr *hdtr,
             off_t *sbytes, int flags) {
  if (sbytes) *sbytes = 0;
  int err = offset < 0 || flags != 0 ? EINVAL : shim_check_input(fd, EINVAL);
  if (err == 0) err = shim_check_socket(s, 0, EINVAL);
  const struct iovec *headers = NULL, *trailers = NULL;
  int nheaders = 0, ntrailers = 0;
  if (err == 0 && hdtr != NULL) {
    if (hdtr->headers) {
      headers = hdtr->headers;
      nheaders = hdtr->hdr_cnt;
    }
    if (hdtr->trailers) {
      trailers = hdtr->trailers;
      ntrailers = hdtr->trl_cnt;
    }
    if (nheaders < 0 || nheaders > LIST_MAX || ntrailers < 0 || ntrailers > LIST_MAX)
      err = EINVAL;
  }
  if (err == 0) err = shim_refusal();
  if (err != 0) {
    errno = err;
    return -1;
  }

  uint64_t size = shim_file_size(fd);
  uint64_t len = 0;
  if ((uint64_t)offset < size) {
    uint64_t avail = size - (uint64_t)offset;
    len = nbytes == 0 || nbytes > avail ? avail : nbytes;
  } else {
    /* Past the end the kernel's page loop never runs, and the headers are
     * sent inside it. */
    nheaders = 0;
  }
  shim_result r = shim_transfer(s, headers, nheaders, fd, (uint64_t)offset, len,
                                trailers, ntrailers);
  if (sbytes) *sbytes = (off_t)r.moved;
  if (r.err != 0) {
    errno = r.err;
    return -1;
  }
  return 0;
}
