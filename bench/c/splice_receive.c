// The kernel's limit for the receive benchmark: splice(2) from a socket
// through a pipe into a file, with nothing else in the process.
//
//   splice_receive DIR [PIPE_BYTES]
//
// Listens on 127.0.0.1 (a free port, printed as "port N" on stdout); for
// each connection, one after another, creates DIR/received.bin (emptied),
// moves the connection's bytes into it with splice calls of as much as the
// pipe holds (PIPE_BYTES, default 262144, as zerocopy's Linux mover), and
// at the end of stream answers with the byte count as 8 little-endian
// bytes, as bench/c/sink.c does, and closes. The socket is non-blocking and
// waited for with poll(2), as an event loop would: a blocking splice wakes
// at every segment that arrives and moves less per call (slower here by
// 10-15% on disk).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    fprintf(stderr, "usage: splice_receive DIR [PIPE_BYTES]\n");
    return 2;
  }
  int pipe_bytes = argc > 2 ? atoi(argv[2]) : 262144;
  char path[4096];
  snprintf(path, sizeof path, "%s/received.bin", argv[1]);
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 64)) {
    perror("splice_receive: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(ls, (struct sockaddr *)&addr, &len);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  int p[2];
  if (pipe2(p, O_CLOEXEC) != 0) {
    perror("splice_receive: pipe");
    return 1;
  }
  fcntl(p[1], F_SETPIPE_SZ, pipe_bytes);
  for (;;) {
    int s = accept(ls, NULL, NULL);
    if (s < 0) {
      if (errno == EINTR) continue;
      perror("splice_receive: accept");
      return 1;
    }
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
      perror("splice_receive: open");
      return 1;
    }
    uint64_t total = 0;
    loff_t at = 0;
    fcntl(s, F_SETFL, O_NONBLOCK);
    for (;;) {
      ssize_t n = splice(s, NULL, p[1], NULL, (size_t)pipe_bytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) {
        struct pollfd pfd = {.fd = s, .events = POLLIN};
        poll(&pfd, 1, -1);
        continue;
      }
      if (n <= 0) break;
      while (n > 0) {
        ssize_t m = splice(p[0], NULL, out, &at, (size_t)n, SPLICE_F_MOVE);
        if (m < 0 && errno == EINTR) continue;
        if (m <= 0) {
          perror("splice_receive: splice to the file");
          return 1;
        }
        n -= m;
        total += (uint64_t)m;
      }
    }
    close(out);
    unsigned char answer[8];
    for (int i = 0; i < 8; i++) answer[i] = (unsigned char)(total >> (8 * i));
    (void)!write(s, answer, sizeof answer);
    close(s);
  }
}
