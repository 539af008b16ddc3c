// The HTTP client of `npm run bench`'s system-call count: an exact number
// of requests, so that what strace counts on the server divides by it.
//
//   httpcount PORT PATH SIZE CONNECTIONS REQUESTS
//
// wrk runs for a time, and stops with requests still in flight; this client
// opens CONNECTIONS keep-alive connections to 127.0.0.1:PORT, keeps one GET
// PATH outstanding on each, and sends exactly REQUESTS requests in all. It
// checks every response head (status 200, Content-Length SIZE) and discards
// the bodies. Prints one JSON line: responses completed, wall seconds, and
// an error or null.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

struct conn {
  int fd;
  char head[8192];
  size_t got;         // bytes of the response head so far
  long long bodyLeft; // -1 while reading the head
};

static int port, epfd;
static const char *path;
static long long size;
static char request[1024];
static int requestLength;
static long sent, completed, total;
static double t0;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void finish(const char *error) {
  printf("{\"requests\":%ld,\"seconds\":%.6f,\"error\":", completed, now() - t0);
  if (error) printf("\"%s\"}\n", error);
  else printf("null}\n");
  exit(error ? 1 : 0);
}

// Connects (blocking: loopback answers at once), then makes the socket
// non-blocking for the event loop.
static void dial(struct conn *c) {
  c->fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&addr, sizeof addr)) finish("connect failed");
  fcntl(c->fd, F_SETFL, O_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, c->fd, &ev)) finish("epoll_ctl failed");
}

// A request is small: the socket's empty send buffer takes it whole.
static void ask(struct conn *c) {
  c->got = 0;
  c->bodyLeft = -1;
  if (write(c->fd, request, (size_t)requestLength) != requestLength) finish("write failed");
  sent++;
}

// Takes the bytes that arrived; returns 1 when the response is complete.
static int take(struct conn *c, const char *data, size_t n) {
  if (c->bodyLeft < 0) {
    size_t room = sizeof c->head - 1 - c->got;
    size_t copy = n < room ? n : room;
    memcpy(c->head + c->got, data, copy);
    c->got += copy;
    c->head[c->got] = 0;
    char *end = strstr(c->head, "\r\n\r\n");
    if (!end) {
      if (c->got == sizeof c->head - 1) finish("response head too large");
      return 0;
    }
    if (strncmp(c->head, "HTTP/1.1 200", 12) != 0) finish("status is not 200");
    long long length = -1;
    for (char *line = strstr(c->head, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
      if (strncasecmp(line + 2, "content-length:", 15) == 0) length = atoll(line + 17);
    }
    if (length != size) finish("Content-Length is not the file size");
    size_t headLength = (size_t)(end + 4 - c->head);
    // What came after the head in this read (and was copied) is body.
    size_t bodyHere = c->got - headLength + (n - copy);
    if ((long long)bodyHere > length) finish("more bytes than the response");
    c->bodyLeft = length - (long long)bodyHere;
  } else {
    if ((long long)n > c->bodyLeft) finish("more bytes than the response");
    c->bodyLeft -= (long long)n;
  }
  return c->bodyLeft == 0;
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the bench
  signal(SIGPIPE, SIG_IGN);
  if (argc < 6) {
    fprintf(stderr, "usage: httpcount PORT PATH SIZE CONNECTIONS REQUESTS\n");
    return 2;
  }
  port = atoi(argv[1]);
  path = argv[2];
  size = atoll(argv[3]);
  int connections = atoi(argv[4]);
  total = atol(argv[5]);
  if (connections < 1 || total < 1) {
    fprintf(stderr, "httpcount: CONNECTIONS and REQUESTS must be at least 1\n");
    return 2;
  }
  if (connections > total) connections = (int)total;
  requestLength = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: zerocopy-bench\r\n\r\n", path, port);
  epfd = epoll_create1(0);
  struct conn *conns = calloc((size_t)connections, sizeof *conns);
  t0 = now();
  for (int i = 0; i < connections; i++) {
    dial(&conns[i]);
    ask(&conns[i]);
  }
  static char buffer[1 << 16];
  struct epoll_event events[256];
  while (completed < total) {
    int ready = epoll_wait(epfd, events, 256, 30000);
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) finish("no progress for 30 s");
    for (int e = 0; e < ready; e++) {
      struct conn *c = events[e].data.ptr;
      for (;;) {
        ssize_t n = recv(c->fd, buffer, sizeof buffer, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && errno == EAGAIN) break;
        if (n <= 0) {
          // The server closed a keep-alive connection before answering:
          // ask again on a new one (the server saw no request).
          if (c->bodyLeft < 0 && c->got == 0) {
            close(c->fd);
            sent--;
            dial(c);
            ask(c);
            break;
          }
          finish("connection closed in a response");
        }
        if (take(c, buffer, (size_t)n)) {
          completed++;
          if (sent < total) ask(c);
          else {
            close(c->fd); // done: closing also removes it from the epoll set
            break;
          }
        }
      }
    }
  }
  finish(NULL);
}
