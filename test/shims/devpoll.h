/* What HP-UX's <sys/devpoll.h> gives native/hpux/wait_devpoll.c, for shim
 * builds, where test/shims/include/sys/devpoll.h stands in for that header.
 *
 * /dev/poll is a device, used through open(2), write(2) and ioctl(2), which
 * Linux has under the same names for everything else. So this header also
 * renames those calls, and close(2), in the file that includes it: the
 * waiter's own calls reach test/shims/devpoll.c, which models the device
 * and hands every other descriptor to the C library. The waiter's code
 * stays as it is on HP-UX. The system headers that declare the calls are
 * included first, so that only calls, not declarations, are renamed.
 * Test code: never shipped. */
#ifndef ZEROCOPY_SHIM_DEVPOLL_H
#define ZEROCOPY_SHIM_DEVPOLL_H

#include <fcntl.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/types.h>
#include <unistd.h>

struct dvpoll {
  struct pollfd *dp_fds; /* where DP_POLL puts what it returns */
  nfds_t dp_nfds;        /* how many entries fit there */
  int dp_timeout;        /* milliseconds, or -1 to wait until one is ready */
};

/* The manual names the requests, not their values: these are the shim's. */
#define DP_POLL 0xD001
#define DP_ISPOLLED 0xD002

/* glibc defines the same value under _GNU_SOURCE. */
#ifndef POLLREMOVE
#define POLLREMOVE 0x1000
#endif

int zc_shim_devpoll_open(const char *path, int flags, ...);
ssize_t zc_shim_devpoll_write(int fd, const void *buf, size_t n);
int zc_shim_devpoll_ioctl(int fd, unsigned long request, ...);
int zc_shim_devpoll_close(int fd);

#ifndef ZEROCOPY_SHIM_DEVPOLL_IMPL
#define open zc_shim_devpoll_open
#define write zc_shim_devpoll_write
#define ioctl zc_shim_devpoll_ioctl
#define close zc_shim_devpoll_close
#endif

#endif
