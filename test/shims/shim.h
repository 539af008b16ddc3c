/* Shared machinery of the syscall shims: a Linux implementation of "send
 * headers, then a file range, then trailers" that stops where a real
 * system might, plus fault injection. Each <system>.c turns its result
 * into that system's own calling convention. Test code: never shipped. */
#ifndef ZEROCOPY_SHIM_H
#define ZEROCOPY_SHIM_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef struct shim_result {
  uint64_t moved; /* bytes moved, in order: headers, file, trailers */
  int err;        /* errno the call ends with, 0 for none */
  int eof;        /* the file ended before the requested range did */
} shim_result;

/* Moves headers, [off, off + len) of in_fd, then trailers to out_fd, with
 * Linux calls on a non-blocking output. Stops at the first error, at end
 * of file, or where fault injection cuts the call short. Fault injection is
 * on when ZEROCOPY_SHIM_FAULTS is set (its value seeds the generator): a
 * call may move a random part of what it was asked for, then report
 * EAGAIN or EINTR, or neither. Before moving anything it may be held (see
 * shim_hold). */
shim_result shim_transfer(int out_fd, const struct iovec *headers, int nheaders,
                          int in_fd, uint64_t off, uint64_t len,
                          const struct iovec *trailers, int ntrailers);

/* A random number for a shim's own faults (a splice cut short, say): 0
 * when fault injection is off, never 0 when it is on. */
uint64_t shim_fault_roll(void);

/* Holding a call, so that a test can make something happen while a step
 * runs (an abort, a destroyed socket): when ZEROCOPY_SHIM_HOLD names a Unix
 * socket, a call made off the process's main thread first connects to it,
 * writes a line "<header bytes> <file offset>\n" (what it is asked to send
 * first) and waits until the other end writes a byte or closes. A call
 * that cannot connect (nobody listens) goes on at once. The main thread is
 * never held: the test that would release it runs there. */
void shim_hold(uint64_t header_bytes, uint64_t offset);

/* The checks these systems make of the output socket: 0, or ENOTSOCK, the
 * errno `refused` for a socket of the wrong kind (not SOCK_STREAM, or with
 * `inet_only` not AF_INET/AF_INET6), or ENOTCONN. */
int shim_check_socket(int s, int inet_only, int refused);

/* The checks of the input: 0, EBADF when it is not open for reading, or the
 * errno `not_regular` when it is not a regular file. */
int shim_check_input(int fd, int not_regular);

/* The size of the file behind fd, for calls whose 0 means "to the end". */
uint64_t shim_file_size(int fd);

/* 0, or the errno every call fails with, before it sends anything, when
 * ZEROCOPY_SHIM_REFUSE names one: ENOSYS (a kernel or sandbox without the
 * call), EINVAL, EOPNOTSUPP (FreeBSD's and macOS's manuals: "the file
 * system for descriptor fd does not support sendfile()") or ENOTSUP. It
 * makes the loop's fallback to the next backend happen for real. */
int shim_refusal(void);

#endif
