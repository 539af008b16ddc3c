/* HP-UX sendfile(2) on Linux, for shim builds. Test code: never shipped.
 *
 * Models:
 * - sendfile(s, fd, offset, nbytes, hdtrl, flags): hdtrl[0] is the header
 *   buffer and hdtrl[1] the trailer buffer, each used when its iov_base is
 *   not NULL; a NULL hdtrl sends the file range alone.
 * - nbytes 0 means "from offset to the end of the file", for real: a
 *   backend that passes 0 for "no file bytes" sends the rest of the file.
 * - Progress in the result only, header + file + trailer bytes, as send(2)
 *   does: a call cut short after moving bytes (fault injection, a full
 *   socket) returns the count, with no error; one that moved nothing
 *   returns -1 with EAGAIN or EINTR.
 * - Arguments: ENOTSOCK when s is not a socket, EOPNOTSUPP when it is not a
 *   TCP socket, ENOTCONN when it is not connected, EBADF for a bad or
 *   unreadable fd, EINVAL for a negative offset or unknown flags.
 *   SF_DISCONNECT shuts the connection down after a complete call.
 * - A call that refuses (ZEROCOPY_SHIM_REFUSE, see shim.h): -1 with that
 *   errno after the argument checks, nothing sent.
 * - End of file (undocumented; the harsher of the plausible behaviours):
 *   the range is cut at the size the file has when the call starts, and the
 *   trailer is still sent after it; an offset at or past the end sends the
 *   header and the trailer alone. So a short count does not say which bytes
 *   were left out.
 *
 * Simpler than the real system: sendfile64 and 32-bit types are not
 * modelled (LP64 build); an fd that is not a regular file gives EINVAL (the
 * manual does not say); a file that shrinks during the call ends it there,
 * without the trailer. */
#define _GNU_SOURCE
#include "hpux.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "shim.h"

sbsize_t sendfile(int s, int fd, off_t offset, bsize_t nbytes,
                  const struct iovec *hdtrl, int flags) {
  int err = shim_check_socket(s, 1, EOPNOTSUPP);
  if (err == 0) err = shim_check_input(fd, EINVAL);
  if (err == 0 && (offset < 0 || (flags & ~SF_DISCONNECT) != 0)) err = EINVAL;
  if (err == 0) err = shim_refusal();
  if (err != 0) {
    errno = err;
    return -1;
  }

  const struct iovec *header = hdtrl && hdtrl[0].iov_base ? &hdtrl[0] : NULL;
  const struct iovec *trailer = hdtrl && hdtrl[1].iov_base ? &hdtrl[1] : NULL;
  uint64_t size = shim_file_size(fd);
  uint64_t avail = (uint64_t)offset < size ? size - (uint64_t)offset : 0;
  uint64_t len = nbytes == 0 || nbytes > avail ? avail : nbytes;

  shim_result r = shim_transfer(s, header, header ? 1 : 0, fd, (uint64_t)offset, len,
                                trailer, trailer ? 1 : 0);
  if (r.moved == 0 && r.err != 0) {
    errno = r.err;
    return -1;
  }
  uint64_t whole = len + (header ? header->iov_len : 0) + (trailer ? trailer->iov_len : 0);
  if ((flags & SF_DISCONNECT) && r.err == 0 && r.moved == whole) shutdown(s, SHUT_RDWR);
  return (sbsize_t)r.moved;
}
