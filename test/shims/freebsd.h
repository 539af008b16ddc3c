/* What FreeBSD's <sys/socket.h> gives native/bsd/sendfile_freebsd.c, for
 * shim builds, where CMake force-includes this file into it. The C library
 * here declares a Linux sendfile() in <sys/sendfile.h>; the FreeBSD one is
 * renamed so that it binds to test/shims/freebsd.c, and the backend must not
 * include that header (it would fail to compile if it did). Test code: never
 * shipped. */
#ifndef ZEROCOPY_SHIM_FREEBSD_H
#define ZEROCOPY_SHIM_FREEBSD_H

#ifdef _SYS_SENDFILE_H
#error "<sys/sendfile.h> declares Linux's sendfile, which the FreeBSD shim replaces"
#endif

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct sf_hdtr {
  struct iovec *headers;  /* header buffers */
  int hdr_cnt;            /* how many */
  struct iovec *trailers; /* trailer buffers */
  int trl_cnt;            /* how many */
};

#define sendfile zc_shim_freebsd_sendfile
int sendfile(int fd, int s, off_t offset, size_t nbytes, struct sf_hdtr *hdtr,
             off_t *sbytes, int flags);

#endif
