/* Linux: sendfile(2) for the file part; headers and trailers go out with
 * writev(2), held together with the file by TCP_CORK on TCP sockets. */
#define _GNU_SOURCE
#include "../zerocopy.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <unistd.h>

static int set_cork(int fd, int on) {
  return setsockopt(fd, IPPROTO_TCP, TCP_CORK, &on, sizeof on) == 0 ? 0 : errno;
}

static int linux_begin(zc_transfer *t) {
  if (t->out_kind != ZC_OUT_TCP || (t->nheaders == 0 && t->ntrailers == 0))
    return 0;
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
