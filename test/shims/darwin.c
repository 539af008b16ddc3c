/* macOS sendfile(2) on Linux, for shim builds. Test code: never shipped.
 *
 * Models:
 * - sendfile(fd, s, offset, &len, hdtr, flags) with headers and trailers
 *   from struct sf_hdtr, the offset by value and never updated.
 * - len on the way in counts the headers as well as the file bytes: the
 *   file part is len minus the header bytes (none when len is not larger).
 *   len 0 means "from offset to the end of the file", for real: a backend
 *   that passes 0 for "no file bytes" sends the rest of the file.
 * - len on the way out: every byte sent, headers and trailers included,
 *   also when the call returns -1 with EAGAIN or EINTR after moving bytes.
 * - The trap: when sf_hdtr carries headers and trailers, the file part is
 *   skipped; headers and trailers go out back to back.
 * - EINVAL for a list with a count of 0 (or less) behind a non-NULL
 *   pointer, as writev does, before anything is sent.
 * - Arguments: ENOTSOCK when s is not a socket, EINVAL when it is not a
 *   SOCK_STREAM socket, ENOTCONN when it is not connected, EBADF for a bad
 *   or unreadable fd, ENOTSUP when fd is not a regular file, EINVAL for a
 *   negative offset, a NULL len or any flags.
 * - A call that refuses (ZEROCOPY_SHIM_REFUSE, see shim.h): -1 with that
 *   errno after the argument checks, nothing sent, *len 0.
 * - End of file: the range is cut at the size the file has when the call
 *   starts and the call succeeds, reporting the bytes sent; trailers still
 *   follow the short file; at or past the end the headers (and trailers)
 *   go out alone.
 *
 * Simpler than the real system: more than 64 buffers in a list give EINVAL
 * (the real limit is 1024); the real kernel sends headers with a separate
 * writev and may, rarely, follow a partly sent header with file bytes, where
 * this shim stops at the first short part; a file that shrinks during the
 * call ends it there, without the trailers. */
#define _GNU_SOURCE
#include "darwin.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "shim.h"

#define LIST_MAX 64

/* A list as the kernel's writev would take it: NULL is none, a count
 * outside 1..LIST_MAX behind a pointer is EINVAL. */
static int take_list(struct iovec *iov, int count, const struct iovec **list, int *n,
                     uint64_t *bytes) {
  *list = NULL;
  *n = 0;
  *bytes = 0;
  if (iov == NULL) return 0;
  if (count <= 0 || count > LIST_MAX) return EINVAL;
  *list = iov;
  *n = count;
  for (int i = 0; i < count; i++) *bytes += iov[i].iov_len;
  return 0;
}

int sendfile(int fd, int s, off_t offset, off_t *len, struct sf_hdtr *hdtr, int flags) {
  int err = shim_check_input(fd, ENOTSUP);
  if (err == 0) err = shim_check_socket(s, 0, EINVAL);
  if (err == 0 && (offset < 0 || len == NULL || flags != 0)) err = EINVAL;
  off_t want = len ? *len : 0;
  if (len) *len = 0;

  const struct iovec *headers = NULL, *trailers = NULL;
  int nheaders = 0, ntrailers = 0;
  uint64_t header_bytes = 0, trailer_bytes = 0;
  if (err == 0 && hdtr != NULL) {
    err = take_list(hdtr->headers, hdtr->hdr_cnt, &headers, &nheaders, &header_bytes);
    if (err == 0)
      err = take_list(hdtr->trailers, hdtr->trl_cnt, &trailers, &ntrailers, &trailer_bytes);
  }
  if (err == 0) err = shim_refusal();
  if (err != 0) {
    errno = err;
    return -1;
  }

  uint64_t size = shim_file_size(fd);
  uint64_t avail = (uint64_t)offset < size ? size - (uint64_t)offset : 0;
  uint64_t file_len;
  if (nheaders > 0 && ntrailers > 0) {
    file_len = 0; /* the trap */
  } else if (want == 0) {
    file_len = avail;
  } else {
    file_len = (uint64_t)want > header_bytes ? (uint64_t)want - header_bytes : 0;
    if (file_len > avail) file_len = avail;
  }
  shim_result r = shim_transfer(s, headers, nheaders, fd, (uint64_t)offset, file_len,
                                trailers, ntrailers);
  *len = (off_t)r.moved;
  if (r.err != 0) {
    errno = r.err;
    return -1;
  }
  return 0;
}
