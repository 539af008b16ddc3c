// The parked clients of `npm run bench`: slow readers that hold a server's
// transfers open.
//
//   parked PORT PATH N RCVBUF
//
// Opens N connections to 127.0.0.1:PORT, each with SO_RCVBUF set to RCVBUF
// before connect (so the window it offers is tiny from the handshake on),
// sends one GET PATH (a large file) on each and never reads the body: the
// server's send stays blocked with its socket buffer full, as with a client
// on a slow link. Connects in batches and waits for each batch's response
// heads (peeked, not read: status 200), so a server is never asked to
// accept more than a batch at once. Then prints one JSON line:
//   {"parked":N,"rcvbuf":B,"seconds":S,"error":null}
// and waits on standard input: each line `status` is answered with
//   {"alive":K}
// (connections the server has not reset or closed); at end of input it
// closes every connection with a reset (SO_LINGER 0: nothing lingers in
// TIME_WAIT) and exits.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BATCH 100
#define BATCH_SECONDS 30

static double t0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void fail(int parked, const char *error) {
  printf("{\"parked\":%d,\"rcvbuf\":0,\"seconds\":%.3f,\"error\":\"%s\"}\n", parked, now() - t0, error);
  exit(1);
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the bench
  signal(SIGPIPE, SIG_IGN);
  if (argc < 5) {
    fprintf(stderr, "usage: parked PORT PATH N RCVBUF\n");
    return 2;
  }
  int port = atoi(argv[1]);
  const char *path = argv[2];
  int n = atoi(argv[3]);
  int rcvbuf = atoi(argv[4]);
  t0 = now();
  if (n < 1) fail(0, "N must be at least 1");

  // One descriptor per connection, and a few for stdio: raise the soft
  // limit (and the hard one, which root may) when it is lower.
  struct rlimit limit;
  rlim_t need = (rlim_t)n + 32;
  if (getrlimit(RLIMIT_NOFILE, &limit)) fail(0, "getrlimit failed");
  if (limit.rlim_cur < need) {
    if (limit.rlim_max < need) limit.rlim_max = need;
    limit.rlim_cur = need;
    if (setrlimit(RLIMIT_NOFILE, &limit)) fail(0, "cannot raise RLIMIT_NOFILE to N + 32 descriptors");
  }

  char request[1024];
  int rlen = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: zerocopy-bench-parked\r\n\r\n", path, port);
  struct pollfd *fds = calloc((size_t)n, sizeof *fds);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int actual = 0;

  for (int start = 0; start < n; start += BATCH) {
    int end = start + BATCH < n ? start + BATCH : n;
    for (int i = start; i < end; i++) {
      int s = socket(AF_INET, SOCK_STREAM, 0);
      if (s < 0) fail(start, "socket failed (descriptors?)");
      // Before connect: the window scale is chosen from it at the handshake.
      setsockopt(s, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
      if (connect(s, (struct sockaddr *)&addr, sizeof addr)) fail(start, "connect failed");
      if (write(s, request, (size_t)rlen) != rlen) fail(start, "write failed");
      fds[i].fd = s;
      fds[i].events = POLLIN;
    }
    // Wait until every response of the batch has begun.
    int waiting = end - start;
    double deadline = now() + BATCH_SECONDS;
    while (waiting > 0) {
      double left = deadline - now();
      if (left <= 0) fail(start, "a batch of response heads did not begin within 30 s");
      int ready = poll(fds + start, (nfds_t)(end - start), (int)(left * 1000) + 1);
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) fail(start, "poll failed");
      for (int i = start; i < end; i++) {
        if (!fds[i].revents) continue;
        char head[12];
        ssize_t got = recv(fds[i].fd, head, sizeof head, MSG_PEEK);
        if (got < (ssize_t)sizeof head && !(fds[i].revents & (POLLERR | POLLHUP))) continue; // not 12 bytes yet
        if (got != (ssize_t)sizeof head || memcmp(head, "HTTP/1.1 200", 12) != 0) fail(start, "a response did not begin with HTTP/1.1 200");
        fds[i].fd = ~fds[i].fd; // begun: poll skips a negative descriptor
        fds[i].revents = 0;
        waiting--;
      }
    }
    for (int i = start; i < end; i++) fds[i].fd = ~fds[i].fd;
  }
  socklen_t len = sizeof actual;
  getsockopt(fds[0].fd, SOL_SOCKET, SO_RCVBUF, &actual, &len);
  printf("{\"parked\":%d,\"rcvbuf\":%d,\"seconds\":%.3f,\"error\":null}\n", n, actual, now() - t0);
  fflush(stdout);

  char line[64];
  while (fgets(line, sizeof line, stdin)) {
    if (strncmp(line, "status", 6) != 0) continue;
    // POLLIN stays set (the unread bytes); a reset or the server's close shows as ERR/HUP/RDHUP.
    for (int i = 0; i < n; i++) fds[i].events = POLLRDHUP;
    poll(fds, (nfds_t)n, 0);
    int alive = 0;
    for (int i = 0; i < n; i++) alive += !(fds[i].revents & (POLLERR | POLLHUP | POLLRDHUP));
    printf("{\"alive\":%d}\n", alive);
    fflush(stdout);
  }
  struct linger reset = {.l_onoff = 1, .l_linger = 0};
  for (int i = 0; i < n; i++) {
    setsockopt(fds[i].fd, SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
    close(fds[i].fd);
  }
  return 0;
}
