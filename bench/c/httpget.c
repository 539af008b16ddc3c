// The HTTP client of `npm run bench` for large files.
//
//   httpget PORT PATH SIZE SECONDS
//
// wrk reads every response into user space through an 8 KiB buffer, so on
// a 1 GiB file it measures wrk. This client keeps one keep-alive connection
// to 127.0.0.1:PORT and asks for PATH again and again until SECONDS have
// passed (at least once). It reads each response head, checks the status
// is 200 and the Content-Length is SIZE, and discards the body with
// recv(MSG_TRUNC), which costs the client next to nothing. Prints one JSON
// line: requests completed, body bytes, wall seconds, and errors.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(int port) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr)) return -1;
  return s;
}

static void finish(long requests, uint64_t bytes, double seconds, const char *error) {
  printf("{\"requests\":%ld,\"bytes\":%llu,\"seconds\":%.6f,\"error\":", requests, (unsigned long long)bytes, seconds);
  if (error) printf("\"%s\"}\n", error);
  else printf("null}\n");
  exit(error ? 1 : 0);
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  if (argc < 5) {
    fprintf(stderr, "usage: httpget PORT PATH SIZE SECONDS\n");
    return 2;
  }
  int port = atoi(argv[1]);
  const char *path = argv[2];
  uint64_t size = strtoull(argv[3], NULL, 10);
  double seconds = atof(argv[4]);
  char request[1024];
  int rlen = snprintf(request, sizeof request, "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUser-Agent: zerocopy-bench\r\n\r\n", path, port);

  static char head[65536];
  long requests = 0;
  uint64_t bytes = 0;
  double t0 = now();
  int s = dial(port);
  if (s < 0) finish(0, 0, 0, "connect failed");
  while (requests == 0 || now() - t0 < seconds) {
    if (write(s, request, (size_t)rlen) != rlen) finish(requests, bytes, now() - t0, "write failed");
    size_t got = 0;
    char *end = NULL;
    while (!end) {
      if (got == sizeof head - 1) finish(requests, bytes, now() - t0, "response head too large");
      ssize_t n = recv(s, head + got, sizeof head - 1 - got, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) {
        if (got == 0 && requests > 0) { // the server closed an idle keep-alive connection: dial again
          close(s);
          s = dial(port);
          if (s < 0 || write(s, request, (size_t)rlen) != rlen) finish(requests, bytes, now() - t0, "reconnect failed");
          continue;
        }
        finish(requests, bytes, now() - t0, "connection closed in the response head");
      }
      got += (size_t)n;
      head[got] = 0;
      end = strstr(head, "\r\n\r\n");
    }
    size_t headLength = (size_t)(end + 4 - head);
    if (strncmp(head, "HTTP/1.1 200", 12) != 0) finish(requests, bytes, now() - t0, "status is not 200");
    long long length = -1;
    for (char *line = strstr(head, "\r\n"); line && line < end; line = strstr(line + 2, "\r\n")) {
      if (strncasecmp(line + 2, "content-length:", 15) == 0) length = atoll(line + 17);
    }
    if (length != (long long)size) finish(requests, bytes, now() - t0, "Content-Length is not the file size");
    uint64_t left = size - (got - headLength);
    while (left > 0) {
      ssize_t n = recv(s, NULL, left > (1u << 30) ? (1u << 30) : left, MSG_TRUNC);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) finish(requests, bytes, now() - t0, "connection closed in the body");
      left -= (uint64_t)n;
    }
    requests++;
    bytes += size;
  }
  finish(requests, bytes, now() - t0, NULL);
}
