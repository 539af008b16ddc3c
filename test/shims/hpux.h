/* What HP-UX's <sys/socket.h> gives native/hpux/sendfile_hpux.c, for shim
 * builds, where CMake force-includes this file into it. The C library here
 * declares a Linux sendfile() in <sys/sendfile.h>; the HP-UX one is renamed
 * so that it binds to test/shims/hpux.c, and the backend must not include
 * that header (it would fail to compile if it did). Test code: never shipped. */
#ifndef ZEROCOPY_SHIM_HPUX_H
#define ZEROCOPY_SHIM_HPUX_H

#ifdef _SYS_SENDFILE_H
#error "<sys/sendfile.h> declares Linux's sendfile, which the HP-UX shim replaces"
#endif

#include <stdint.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

/* 64-bit under _FILE_OFFSET_BITS=64, as HP-UX defines them then. */
typedef uint64_t bsize_t;
typedef int64_t sbsize_t;

#define SF_DISCONNECT 1 /* flags: shut the connection down afterwards */

#define sendfile zc_shim_hpux_sendfile
sbsize_t sendfile(int s, int fd, off_t offset, bsize_t nbytes,
                  const struct iovec *hdtrl, int flags);

#endif
