// The TCP receiver of `npm run bench`: it costs as little as a receiver can.
//
//   sink [PORT] [concurrent]
//
// Listens on 127.0.0.1:PORT (0: any free port) and prints "port N" on
// stdout. Then, one connection at a time (with `concurrent`, each in a
// thread of its own, for the relay benchmark's many connections): discards
// everything that arrives with recv(MSG_TRUNC) (the kernel drops the bytes
// without copying them to user space), and at the sender's end of stream
// answers with the byte count as 8 little-endian bytes and closes. The
// sender stops its clock on that answer, so its wall time covers delivery
// of the last byte.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static void *drain(void *arg) {
  int s = (int)(intptr_t)arg;
  uint64_t total = 0;
  for (;;) {
    ssize_t n = recv(s, NULL, 1 << 30, MSG_TRUNC);
    if (n > 0) total += (uint64_t)n;
    else if (n == 0) break;
    else if (errno != EINTR) break; // reset: report what arrived
  }
  unsigned char answer[8];
  for (int i = 0; i < 8; i++) answer[i] = (unsigned char)(total >> (8 * i));
  (void)!write(s, answer, sizeof answer);
  close(s);
  return NULL;
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM); // never outlive the bench
  signal(SIGPIPE, SIG_IGN);
  int port = argc > 1 ? atoi(argv[1]) : 0;
  int ls = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 64)) {
    perror("sink: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(ls, (struct sockaddr *)&addr, &len);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  int concurrent = argc > 2 && strcmp(argv[2], "concurrent") == 0;
  for (;;) {
    int s = accept(ls, NULL, NULL);
    if (s < 0) {
      if (errno == EINTR) continue;
      perror("sink: accept");
      return 1;
    }
    if (!concurrent) {
      drain((void *)(intptr_t)s);
      continue;
    }
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_attr_setstacksize(&attr, 64 * 1024);
    if (pthread_create(&t, &attr, drain, (void *)(intptr_t)s) != 0) drain((void *)(intptr_t)s);
    pthread_attr_destroy(&attr);
  }
}
