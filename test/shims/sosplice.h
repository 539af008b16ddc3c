/* What FreeBSD's and OpenBSD's <sys/socket.h> give native/bsd/sosplice.c,
 * for shim builds, where CMake force-includes this file into it: struct
 * splice and SO_SPLICE, with setsockopt, getsockopt and poll renamed so
 * that the mover's calls reach test/shims/sosplice.c, which models
 * SO_SPLICE on Linux (a spliced source is not readable to poll either)
 * and hands everything else to the C library. The system headers
 * that declare the calls come first, so that only calls are renamed.
 * Test code: never shipped. */
#ifndef ZEROCOPY_SHIM_SOSPLICE_H
#define ZEROCOPY_SHIM_SOSPLICE_H

#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

struct splice {
  int sp_fd;              /* the drain; -1 dissolves the source's splice */
  off_t sp_max;           /* most bytes to move; 0: no limit */
  struct timeval sp_idle; /* dissolve after this long without a byte; 0: never */
};

/* The manuals name the option, not its value: this is the shim's. */
#define SO_SPLICE 0x1023

int zc_shim_setsockopt(int fd, int level, int name, const void *value, socklen_t len);
int zc_shim_poll(struct pollfd *fds, nfds_t n, int timeout);
int zc_shim_getsockopt(int fd, int level, int name, void *value, socklen_t *len);

/* For the kqueue shim: whether fd is the source of a splice in progress,
 * which is not readable until it dissolves. */
int zc_shim_spliced_source(int fd);

#ifndef ZEROCOPY_SHIM_SOSPLICE_IMPL
#define setsockopt zc_shim_setsockopt
#define getsockopt zc_shim_getsockopt
#define poll zc_shim_poll
#endif

#endif
