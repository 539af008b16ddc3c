/* Solaris sendfilev(3EXT) on Linux, for shim builds. Test code: never shipped.
 *
 * Models:
 * - The vector: any sequence of memory (SFV_FD_SELF, address in sfv_off)
 *   and file entries, sent in order. Runs of memory entries go out together
 *   with the file entry that follows them (one shim_transfer each), so a
 *   fault can cut the vector anywhere; the call stops at the first entry
 *   that comes up short.
 * - Arguments: EINVAL for sfvcnt <= 0, for an sfv_len of 0 and for a
 *   non-zero sfv_flag; EBADF for a bad or unreadable file entry or an output
 *   not open for writing; EINVAL for a file entry that is not a regular file.
 * - Outputs: a regular file (written at its position), or a connected
 *   AF_INET/AF_INET6 SOCK_STREAM socket; other families give EAFNOSUPPORT,
 *   other socket types EPROTOTYPE, pipes and devices EINVAL, an unconnected
 *   socket ENOTCONN.
 * - Progress: *xferred always holds the bytes sent, also when the call
 *   returns -1 (EAGAIN or EINTR after part of the vector, from fault
 *   injection or a full socket).
 * - EINVAL after progress: writing to a regular file ends with -1/EINVAL
 *   once something was written, as Go and libuv report of Solaris for
 *   outputs that are not sockets.
 * - End of file: Solaris 11 stops at the short file entry and returns the
 *   bytes sent so far without an error. With ZEROCOPY_SHIM_SOLARIS_EOF=einval
 *   it behaves as the manual and illumos do instead: -1/EINVAL, with the
 *   bytes sent so far in *xferred.
 * - A call that refuses (ZEROCOPY_SHIM_REFUSE, see shim.h): -1 with that
 *   errno after the argument checks, nothing sent.
 *
 * Simpler than the real system: the 64-bit mapping (sendfilev64,
 * sendfilevec64_t) is not modelled, since this is an LP64 build; the file
 * size is not re-read between memory entries; SFV_NOWAIT and AF_NCA are not
 * modelled; vectors of more than 64 memory entries in a row are refused with
 * EINVAL; a failure after progress reports the error of the entry that
 * failed, where Solaris may report the byte count on a later call. */
#define _GNU_SOURCE
#include "solaris.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>

#include "shim.h"

#define RUN_MAX 64

/* 0 when fildes can take sendfilev output; *is_file says it is a file. */
static int check_output(int fildes, int *is_file) {
  struct stat st;
  if (fstat(fildes, &st) != 0) return EBADF;
  int mode = fcntl(fildes, F_GETFL);
  if (mode < 0 || (mode & O_ACCMODE) == O_RDONLY) return EBADF;
  *is_file = S_ISREG(st.st_mode);
  if (*is_file) return 0;
  if (!S_ISSOCK(st.st_mode)) return EINVAL;
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(fildes, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return errno;
  if (type != SOCK_STREAM) return EPROTOTYPE;
  struct sockaddr_storage addr;
  len = sizeof addr;
  if (getsockname(fildes, (struct sockaddr *)&addr, &len) != 0) return errno;
  if (addr.ss_family != AF_INET && addr.ss_family != AF_INET6) return EAFNOSUPPORT;
  len = sizeof addr;
  if (getpeername(fildes, (struct sockaddr *)&addr, &len) != 0) return ENOTCONN;
  return 0;
}

static int check_entry(const sendfilevec_t *v) {
  if (v->sfv_flag != 0 || v->sfv_len == 0) return EINVAL;
  if (v->sfv_fd == SFV_FD_SELF) return 0;
  struct stat st;
  if (fstat(v->sfv_fd, &st) != 0) return EBADF;
  int mode = fcntl(v->sfv_fd, F_GETFL);
  if (mode < 0 || (mode & O_ACCMODE) == O_WRONLY) return EBADF;
  if (!S_ISREG(st.st_mode) || v->sfv_off < 0) return EINVAL;
  return 0;
}

static int einval_at_eof(void) {
  const char *mode = getenv("ZEROCOPY_SHIM_SOLARIS_EOF");
  return mode != NULL && strcmp(mode, "einval") == 0;
}

ssize_t sendfilev(int fildes, const struct sendfilevec *vec, int sfvcnt, size_t *xferred) {
  if (xferred == NULL || (vec == NULL && sfvcnt > 0)) {
    errno = EFAULT;
    return -1;
  }
  *xferred = 0;
  if (sfvcnt <= 0) {
    errno = EINVAL;
    return -1;
  }
  int is_file = 0;
  int err = check_output(fildes, &is_file);
  for (int i = 0; err == 0 && i < sfvcnt; i++) err = check_entry(&vec[i]);
  if (err == 0) err = shim_refusal();
  if (err != 0) {
    errno = err;
    return -1;
  }

  uint64_t total = 0;
  int eof = 0;
  int i = 0;
  while (i < sfvcnt) {
    /* A run of memory entries, then the file entry behind it if any. */
    struct iovec run[RUN_MAX];
    int n = 0;
    uint64_t wanted = 0;
    while (i < sfvcnt && vec[i].sfv_fd == SFV_FD_SELF) {
      if (n == RUN_MAX) {
        errno = EINVAL;
        *xferred = (size_t)total;
        return -1;
      }
      run[n].iov_base = (void *)(uintptr_t)vec[i].sfv_off;
      run[n].iov_len = vec[i].sfv_len;
      wanted += vec[i].sfv_len;
      n++;
      i++;
    }
    int in_fd = -1;
    uint64_t off = 0, len = 0;
    if (i < sfvcnt) {
      in_fd = vec[i].sfv_fd;
      off = (uint64_t)vec[i].sfv_off;
      len = vec[i].sfv_len;
      wanted += len;
      i++;
    }
    shim_result r = shim_transfer(fildes, run, n, in_fd, off, len, NULL, 0);
    total += r.moved;
    if (r.err != 0) {
      err = r.err;
      break;
    }
    if (r.eof) {
      eof = 1;
      break;
    }
    if (r.moved < wanted) break;
  }

  *xferred = (size_t)total;
  if (err == 0 && eof && einval_at_eof()) err = EINVAL;
  if (err == 0 && is_file && total > 0) err = EINVAL;
  if (err != 0) {
    errno = err;
    return -1;
  }
  return (ssize_t)total;
}
