// The client of the relay benchmark: COUNT connections to 127.0.0.1:PORT,
// CONCURRENCY of them at a time (one thread each, one connection after
// another), each sending the first SIZE bytes of FILE with sendfile(2),
// shutting its write side and waiting for the far end's 8-byte count (the
// sink, bench/c/sink.c, answers at the end of stream; through a relay the
// answer takes the other direction, and the end the relay passed on).
//
//   relay_client PORT FILE SIZE COUNT CONCURRENCY
//
// Prints one JSON line: the bytes the sink counted in all, the connections
// whose count was wrong, and the wall seconds from the first connect to the
// last answer.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int port, file;
static uint64_t size;
static atomic_int next_connection;
static int count;
static atomic_ullong acked;
static atomic_int wrong;

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int one_connection(void) {
  int s = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons(port)};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (s < 0 || connect(s, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("relay_client: connect");
    return -1;
  }
  off_t offset = 0;
  while ((uint64_t)offset < size) {
    ssize_t n = sendfile(s, file, &offset, size - (uint64_t)offset);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      perror("relay_client: sendfile");
      close(s);
      return -1;
    }
  }
  shutdown(s, SHUT_WR);
  unsigned char answer[8];
  size_t got = 0;
  while (got < sizeof answer) {
    ssize_t n = read(s, answer + got, sizeof answer - got);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += (size_t)n;
  }
  close(s);
  if (got < sizeof answer) return -1;
  uint64_t total = 0;
  for (int i = 0; i < 8; i++) total |= (uint64_t)answer[i] << (8 * i);
  atomic_fetch_add(&acked, total);
  return total == size ? 0 : -1;
}

static void *worker(void *arg) {
  (void)arg;
  while (atomic_fetch_add(&next_connection, 1) < count)
    if (one_connection() != 0) atomic_fetch_add(&wrong, 1);
  return NULL;
}

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  if (argc != 6) {
    fprintf(stderr, "usage: relay_client PORT FILE SIZE COUNT CONCURRENCY\n");
    return 2;
  }
  port = atoi(argv[1]);
  file = open(argv[2], O_RDONLY);
  size = strtoull(argv[3], NULL, 10);
  count = atoi(argv[4]);
  int concurrency = atoi(argv[5]);
  if (file < 0 || count < 1 || concurrency < 1) {
    perror("relay_client: open");
    return 2;
  }
  pthread_t threads[256];
  if (concurrency > 256) concurrency = 256;
  double t0 = now();
  for (int i = 0; i < concurrency; i++) pthread_create(&threads[i], NULL, worker, NULL);
  for (int i = 0; i < concurrency; i++) pthread_join(threads[i], NULL);
  double t1 = now();
  printf("{\"bytes\":%llu,\"wrong\":%d,\"seconds\":%.9f}\n", (unsigned long long)atomic_load(&acked), atomic_load(&wrong), t1 - t0);
  return 0;
}
