/* Linux: sendfile(2) for the file part. On TCP, headers go out with
 * MSG_MORE and trailers inside a TCP_CORK, so that both leave in the same
 * segments as the file; elsewhere headers and trailers go by writev(2). */
#define _GNU_SOURCE
#include "../zerocopy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int set_cork(int fd, int on) {
  return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0 ? 0 : errno;
}

static int linux_begin(zc_transfer *t) {
  /* Headers alone are held back by MSG_MORE (see linux_step); trailers
   * follow the file in a call of their own, so they need the cork. */
  if (t->out_kind != ZC_OUT_TCP || t->ntrailers == 0) return 0;
  int corked = 0;
  socklen_t len = sizeof corked;
  t->call = "setsockopt";
  if (getsockopt(t->out_fd, IPPROTO_TCP, TCP_CORK, &corked, &len) != 0)
    return errno;
  /* A socket the caller corked stays corked: its owner will uncork it. */
  if (corked) return 0;
  int err = set_cork(t->out_fd, 1);
  if (err == 0) t->cork_restore = 1;
  return err;
}

/* Headers with MSG_MORE: the kernel holds them for the file's first bytes,
 * and sendfile pushes when it ends, so a small response leaves as one
 * segment without the two setsockopt calls of a cork. */
static int send_headers_more(zc_transfer *t, uint64_t *moved) {
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = t->headers;
  msg.msg_iovlen = t->nheaders < ZC_IOV_BATCH ? t->nheaders : ZC_IOV_BATCH;
  t->call = "sendmsg";
  ssize_t n = sendmsg(t->out_fd, &msg, MSG_MORE | MSG_NOSIGNAL);
  *moved = n < 0 ? 0 : (uint64_t)n;
  return n < 0 ? errno : 0;
}

static void linux_end(zc_transfer *t) {
  /* Uncorking pushes the last partial segment out now, not in 200 ms. */
  if (t->cork_restore) set_cork(t->out_fd, 0);
  t->cork_restore = 0;
}

/* Moves file bytes to a regular file. copy_file_range lets the filesystem
 * share extents or copy inside the kernel; it refuses some pairs of files
 * (across filesystems before 5.3, special files), where sendfile works. */
static ssize_t file_to_file(zc_transfer *t, size_t len) {
  off_t off = (off_t)t->offset;
  if (!t->file_call_failed) {
    t->call = "copy_file_range";
    ssize_t n = copy_file_range(t->in_fd, &off, t->out_fd, NULL, len, 0);
    if (n >= 0) return n;
    if (errno != EXDEV && errno != EINVAL && errno != ENOSYS &&
        errno != EOPNOTSUPP && errno != EBADF)
      return -1;
    t->file_call_failed = 1;
  }
  t->call = "sendfile";
  return sendfile(t->out_fd, t->in_fd, &off, len);
}

static int linux_step(zc_transfer *t, uint64_t *moved) {
  if (t->nheaders > 0 && t->remaining > 0 && t->out_kind == ZC_OUT_TCP)
    return send_headers_more(t, moved);
  if (t->nheaders > 0 || t->remaining == 0) return zc_write_buffers(t, moved);
  size_t len = (size_t)zc_file_chunk(t);
  ssize_t n;
  if (t->out_kind == ZC_OUT_FILE) {
    n = file_to_file(t, len);
  } else {
    /* sendfile takes a 64-bit offset here (_FILE_OFFSET_BITS=64 on 32-bit
     * builds) and leaves the input's file position alone. */
    off_t off = (off_t)t->offset;
    t->call = "sendfile";
    n = sendfile(t->out_fd, t->in_fd, &off, len);
  }
  *moved = n < 0 ? 0 : (uint64_t)n;
  return n < 0 ? errno : 0;
}

const zc_backend zc_linux_sendfile = {
    .name = "sendfile",
    .zero_copy = 1,
    /* sendfile and copy_file_range refuse O_APPEND outputs (EINVAL, EBADF). */
    .outputs = ZC_OUTPUT_ANY & ~ZC_OUTPUT(ZC_OUT_APPEND),
    .headers_trailers = "cork",
    .begin = linux_begin,
    .step = linux_step,
    .end = linux_end,
};
