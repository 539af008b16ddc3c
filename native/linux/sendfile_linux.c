/* Linux: sendfile(2) for the file part (copy_file_range(2) to regular
 * files). The call carries file bytes only: on TCP, headers go out ahead
 * with MSG_MORE and trailers inside a TCP_CORK, so that both leave in the
 * same segments as the file; elsewhere the loop writes them by writev(2). */
#define _GNU_SOURCE
#if !defined(__linux__)
#error "sendfile_linux.c is the Linux backend; CMakeLists.txt picks it for Linux only"
#endif

#include "../zerocopy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct linux_state {
  int uncork;          /* we corked the socket and must uncork it */
  int copy_refused;    /* copy_file_range refused this pair: use sendfile */
};

static int set_cork(int fd, int on) {
  return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0 ? 0 : errno;
}

/* From this many file bytes on, a transfer to TCP goes corked: the kernel
 * then sends only full segments, as nginx's tcp_nopush has it. Measured
 * (commit ffb1d30): large responses ran faster corked, responses of a few
 * MiB no faster or slower. */
#define CORK_FROM (16u << 20)

static int linux_begin(zc_transfer *t, void *state) {
  struct linux_state *s = state;
  /* Headers alone are held back by MSG_MORE (see send_headers_more);
   * trailers follow the file in a call of their own, so they need the
   * cork. */
  if (t->out_kind != ZC_OUT_TCP || (t->ntrailers == 0 && t->remaining < CORK_FROM)) return 0;
  int corked = 0;
  socklen_t len = sizeof corked;
  t->call = "setsockopt";
  if (getsockopt(t->out_fd, IPPROTO_TCP, TCP_CORK, &corked, &len) != 0)
    return errno;
  /* A socket the caller corked stays corked: its owner will uncork it. */
  if (corked) return 0;
  int err = set_cork(t->out_fd, 1);
  if (err == 0) s->uncork = 1;
  return err;
}

static void linux_end(zc_transfer *t, void *state) {
  struct linux_state *s = state;
  /* Uncorking pushes the last partial segment out now, not in 200 ms. */
  if (s->uncork) set_cork(t->out_fd, 0);
  s->uncork = 0;
}

/* Headers ahead of the file. On TCP they go with MSG_MORE: the kernel
 * holds them for the file's first bytes, and sendfile pushes when it ends,
 * so a small response leaves as one segment without the two setsockopt
 * calls of a cork. MSG_MORE is a TCP (and UDP) flag; other outputs get a
 * plain writev. */
static void send_headers_more(zc_transfer *t, void *state, zc_call *c) {
  if (t->out_kind != ZC_OUT_TCP) {
    zc_write_buffers(t, c);
    return;
  }
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = c->headers;
  msg.msg_iovlen = c->nheaders;
  t->call = "sendmsg";
  zc_set_result(c, sendmsg(t->out_fd, &msg, MSG_MORE | MSG_NOSIGNAL));
}

/* Moves file bytes to a regular file. copy_file_range lets the filesystem
 * share extents or copy inside the kernel; it refuses some pairs of files
 * (across filesystems before 5.3, special files), where sendfile works. */
static ssize_t file_to_file(zc_transfer *t, struct linux_state *s, zc_call *c) {
  off_t off = (off_t)c->offset;
  if (!s->copy_refused) {
    t->call = "copy_file_range";
    ssize_t n = copy_file_range(t->in_fd, &off, t->out_fd, NULL, (size_t)c->file_len, 0);
    if (n >= 0) return n;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
        errno != EOPNOTSUPP && errno != EBADF)
      return -1;
    s->copy_refused = 1;
  }
  t->call = "sendfile";
  return sendfile(t->out_fd, t->in_fd, &off, (size_t)c->file_len);
}

static void linux_step(zc_transfer *t, void *state, zc_call *c) {
  if (t->out_kind == ZC_OUT_FILE) {
    zc_set_result(c, file_to_file(t, state, c));
    return;
  }
  /* sendfile takes a 64-bit offset here (_FILE_OFFSET_BITS=64 on 32-bit
   * builds) and leaves the input's file position alone. */
  off_t off = (off_t)c->offset;
  t->call = "sendfile";
  zc_set_result(c, sendfile(t->out_fd, t->in_fd, &off, (size_t)c->file_len));
}

const zc_backend zc_linux_sendfile = {
    .name = "sendfile",
    .zero_copy = 1,
    /* sendfile and copy_file_range refuse O_APPEND outputs (EINVAL, EBADF). */
    .outputs = ZC_OUTPUT_ANY & ~ZC_OUTPUT(ZC_OUT_APPEND),
    .headers_trailers = "cork",
    /* sendfile carries file bytes only. */
    .max_headers = 0,
    .max_trailers = 0,
    .state_size = sizeof(struct linux_state),
    .begin = linux_begin,
    .step = linux_step,
    .send_headers = send_headers_more,
    .end = linux_end,
};
