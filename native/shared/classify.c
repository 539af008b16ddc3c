/* What kind of output a descriptor is: it decides which backends can write
 * to it and how the glue drives the transfer. */
#include "../zerocopy.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>

int zc_classify_output(int fd, enum zc_output_kind *kind) {
  struct stat st;
  if (fstat(fd, &st) != 0) return errno;
  if (S_ISREG(st.st_mode)) {
    int flags = fcntl(fd, F_GETFL);
    *kind = flags >= 0 && (flags & O_APPEND) ? ZC_OUT_APPEND : ZC_OUT_FILE;
  } else if (S_ISSOCK(st.st_mode)) {
    struct sockaddr_storage addr;
    socklen_t len = sizeof addr;
    int type = 0;
    socklen_t tlen = sizeof type;
    if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tlen) != 0) return errno;
    if (type != SOCK_STREAM) return ENOTSUP;
    if (getsockname(fd, (struct sockaddr *)&addr, &len) != 0) return errno;
    /* A listening or unconnected socket never becomes writable: the
     * transfer would wait for it forever. */
    struct sockaddr_storage peer;
    socklen_t peer_len = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0) return errno;
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
