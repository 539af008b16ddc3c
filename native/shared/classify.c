/* What kind of output (or input) a descriptor is: it decides which
 * backends (or movers) can write to it or read from it, and how the glue
 * drives the transfer. */
#include "../flow.h"
#include "../zerocopy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

/* 0 for a stream socket, connected if `connected`, else why it is not
 * one. */
static int stream_socket(int fd, int connected) {
  int type = 0;
  socklen_t tlen = sizeof type;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0) return errno;
  if (type != SOCK_STREAM) return ENOTSUP;
  if (!connected) return 0;
  /* A listening or unconnected socket never becomes writable: the
   * transfer would wait for it forever. */
  struct sockaddr_storage peer;
  socklen_t peer_len = sizeof peer;
  return getpeername(fd, (struct sockaddr *)&peer, &peer_len) == 0 ? 0 : errno;
}

int zc_classify_input(int fd, enum zc_input_kind *kind) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (S_ISSOCK(st.st_mode)) {
    /* Not asked to be connected: one whose peer has reset already says so
     * at its first read, which is the error to report. */
    int err = stream_socket(fd, 0);
    if (err != 0) return err;
    *kind = ZC_IN_SOCKET;
  } else if (S_ISFIFO(st.st_mode)) {
    *kind = ZC_IN_PIPE;
  } else if (S_ISDIR(st.st_mode)) {
    return EISDIR;
  } else if (S_ISREG(st.st_mode)) {
    /* A file has no end to wait for: sendFile reads files. */
    return EINVAL;
  } else {
    *kind = ZC_IN_DEVICE;
  }
  return 0;
}

static int classify_output(int fd, int connected, enum zc_output_kind *kind) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (S_ISREG(st.st_mode)) {
    int flags = fcntl(fd, F_GETFL);
    *kind = flags >= 0 && (flags & O_APPEND) ? ZC_OUT_APPEND : ZC_OUT_FILE;
  } else if (S_ISSOCK(st.st_mode)) {
    int err = stream_socket(fd, connected);
    if (err != 0) return err;
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return errno;
    *kind = addr.ss_family == AF_INET || addr.ss_family == AF_INET6
                ? ZC_OUT_TCP
                : ZC_OUT_SOCKET;
  } else if (S_ISDIR(st.st_mode)) {
    return EISDIR;
  } else {
    *kind = ZC_OUT_PIPE;
  }
  return 0;
}

int zc_classify_output(int fd, enum zc_output_kind *kind) { return classify_output(fd, 1, kind); }

int zc_classify_flow_output(int fd, enum zc_output_kind *kind) { return classify_output(fd, 0, kind); }
