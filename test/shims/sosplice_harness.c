/* Checks that test/shims/sosplice.c models SO_SPLICE as the manuals and
 * FreeBSD's tests/sys/kern/socket_splice.c describe it, case by case, on
 * real loopback TCP connections: what native/bsd/sosplice.c relies on is
 * then tested against the model, and the model against its sources. Test
 * code: never shipped; test/sosplice-shim.test.ts builds and runs it.
 *
 * Cases: a byte each way through a pair spliced both ways, with the
 * counts, kept when dissolved and started again by a new splice; the
 * errors of setsockopt (EINVAL, ENOTCONN, EBUSY, ENOTSOCK, EBADF,
 * EPROTONOSUPPORT); a spliced source not readable to kqueue until the
 * splice dissolves; sp_max (the next byte stays at the source); sp_idle
 * (ETIMEDOUT on the source); the source's end of stream (dissolved, no
 * error, a read says 0); a drain that cannot send (an error on the
 * source).
 *
 * Last line: "sosplice harness: <n> checks, <m> failures"; exit code 0
 * only with none. */
#define _GNU_SOURCE
#include "sosplice.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "kqueue.h"

static int checks, failures;
static const char *current = "";

static void check(int ok, const char *fmt, ...) {
  checks++;
  if (ok) return;
  failures++;
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL %s: ", current);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
}

/* A connected loopback TCP pair: out[0] accepted, out[1] connecting. */
static void tcp_pair(int out[2]) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  out[1] = socket(AF_INET, SOCK_STREAM, 0);
  if (bind(listener, (struct sockaddr *)&addr, sizeof addr) || listen(listener, 1) ||
      getsockname(listener, (struct sockaddr *)&addr, &len) || connect(out[1], (struct sockaddr *)&addr, sizeof addr) ||
      (out[0] = accept(listener, NULL, NULL)) < 0) {
    perror("sosplice harness: loopback TCP");
    exit(2);
  }
  close(listener);
}

/* left[1] and right[0] spliced both ways; left[0] and right[1] are the peers. */
typedef struct conn {
  int left[2], right[2];
} conn;

static int splice_to(int source, int drain, off_t max, int idle_ms) {
  struct splice sp = {.sp_fd = drain, .sp_max = max, .sp_idle = {idle_ms / 1000, (idle_ms % 1000) * 1000}};
  return setsockopt(source, SOL_SOCKET, SO_SPLICE, &sp, sizeof sp) == 0 ? 0 : errno;
}

static int unsplice(int source) { return splice_to(source, -1, 0, 0); }

static off_t spliced(int source) {
  off_t n = -1;
  socklen_t len = sizeof n;
  return getsockopt(source, SOL_SOCKET, SO_SPLICE, &n, &len) == 0 ? n : -1;
}

static int so_error(int fd) {
  int err = -1;
  socklen_t len = sizeof err;
  return getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) == 0 ? err : -1;
}

static conn make_conn(off_t max, int idle_ms) {
  conn c;
  tcp_pair(c.left);
  tcp_pair(c.right);
  check(splice_to(c.left[1], c.right[0], max, idle_ms) == 0, "splice left to right");
  check(splice_to(c.right[0], c.left[1], max, idle_ms) == 0, "splice right to left");
  return c;
}

static void close_conn(conn *c) {
  unsplice(c->left[1]);
  unsplice(c->right[0]);
  for (int i = 0; i < 2; i++) {
    close(c->left[i]);
    close(c->right[i]);
  }
}

/* Reads one byte, waiting at most 5 s; -1 without one. */
static int read_byte(int fd) {
  struct timeval tv = {5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  unsigned char b;
  ssize_t n = read(fd, &b, 1);
  return n == 1 ? b : n == 0 ? 256 : -1;
}

static void basic(void) {
  current = "a byte each way, and the counts";
  conn c = make_conn(0, 0);
  check(spliced(c.left[1]) == 0 && spliced(c.right[0]) == 0, "counts before: %lld %lld", (long long)spliced(c.left[1]), (long long)spliced(c.right[0]));
  (void)!write(c.left[0], "M", 1);
  check(read_byte(c.right[1]) == 'M', "left to right");
  (void)!write(c.right[1], "J", 1);
  check(read_byte(c.left[0]) == 'J', "right to left");
  check(spliced(c.left[1]) == 1 && spliced(c.right[0]) == 1, "counts after: %lld %lld", (long long)spliced(c.left[1]), (long long)spliced(c.right[0]));
  check(unsplice(c.left[1]) == 0 && unsplice(c.right[0]) == 0, "unsplice");
  check(spliced(c.left[1]) == 1, "the count kept once dissolved: %lld", (long long)spliced(c.left[1]));
  current = "a new splice starts the count again";
  check(splice_to(c.left[1], c.right[0], 0, 0) == 0, "splice again");
  check(spliced(c.left[1]) == 0, "count after splicing again: %lld", (long long)spliced(c.left[1]));
  close_conn(&c);
}

static void errors(void) {
  current = "setsockopt's errors";
  int left[2], right[2];
  tcp_pair(left);
  tcp_pair(right);
  check(splice_to(left[1], right[0], -3, 0) == EINVAL, "a negative max: EINVAL");
  check(unsplice(left[1]) == ENOTCONN, "dissolving a socket never spliced: ENOTCONN");
  check(splice_to(left[1], right[0], 0, 0) == 0, "splice");
  check(splice_to(left[1], right[1], 0, 0) == EBUSY, "splicing a source spliced already: EBUSY");
  check(splice_to(left[0], right[0], 0, 0) == EBUSY, "splicing to a drain spliced already: EBUSY");
  check(unsplice(left[1]) == 0, "dissolve");
  check(unsplice(left[1]) == ENOTCONN, "dissolving twice: ENOTCONN");
  char path[] = "/tmp/zc-sosplice-XXXXXX";
  int file = mkstemp(path);
  unlink(path);
  check(splice_to(left[1], file, 0, 0) == ENOTSOCK, "a drain that is no socket: ENOTSOCK");
  close(file);
  check(splice_to(left[1], file, 0, 0) == EBADF, "a drain that is not open: EBADF");
  int usd[2];
  socketpair(AF_UNIX, SOCK_STREAM, 0, usd);
  check(splice_to(left[1], usd[0], 0, 0) == EPROTONOSUPPORT, "a Unix socket: EPROTONOSUPPORT");
  close(usd[0]);
  close(usd[1]);
  int unconnected = socket(AF_INET, SOCK_STREAM, 0);
  check(splice_to(left[1], unconnected, 0, 0) == ENOTCONN, "an unconnected drain: ENOTCONN");
  check(splice_to(unconnected, right[0], 0, 0) == ENOTCONN, "an unconnected source: ENOTCONN");
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  bind(unconnected, (struct sockaddr *)&addr, sizeof addr);
  listen(unconnected, 1);
  check(splice_to(left[1], unconnected, 0, 0) == EINVAL, "a listening drain: EINVAL");
  close(unconnected);
  for (int i = 0; i < 2; i++) {
    close(left[i]);
    close(right[i]);
  }
}

/* How many read events the queue has for fd right now. */
static int read_events(int kq) {
  struct kevent ev;
  struct timespec zero = {0, 0};
  return kevent(kq, NULL, 0, &ev, 1, &zero);
}

static void kevents(void) {
  current = "a spliced source is not readable to kqueue until dissolved";
  conn c = make_conn(0, 0);
  int kq = kqueue();
  struct kevent change;
  EV_SET(&change, c.left[1], EVFILT_READ, EV_ADD, 0, 0, NULL);
  check(kevent(kq, &change, 1, NULL, 0, NULL) == 0, "add the read event");
  check(read_events(kq) == 0, "no event at first");
  (void)!write(c.left[0], "M", 1);
  check(read_byte(c.right[1]) == 'M', "the byte passes");
  check(read_events(kq) == 0, "no event for the byte that passed");
  /* The drain's reader reads nothing: the splice stalls, and bytes wait in
   * the source, which is still not readable. */
  fcntl(c.left[0], F_SETFL, O_NONBLOCK);
  char junk[65536];
  memset(junk, 'j', sizeof junk);
  for (int i = 0; i < 400 && write(c.left[0], junk, sizeof junk) > 0; i++) usleep(1000);
  usleep(50000);
  int waiting = 0;
  ioctl(c.left[1], FIONREAD, &waiting);
  check(waiting > 0, "bytes wait in the stalled source");
  check(read_events(kq) == 0, "no event while they wait");
  check(unsplice(c.left[1]) == 0, "dissolve");
  check(read_events(kq) == 1, "an event once dissolved, the bytes at the source");
  close(kq);
  close_conn(&c);
}

static void limit(void) {
  current = "sp_max: at most that many bytes, the next stays at the source";
  conn c = make_conn(129, 0);
  char buf[128];
  memset(buf, 'A', sizeof buf);
  check(write(c.left[0], buf, sizeof buf) == (ssize_t)sizeof buf, "write 128");
  size_t got = 0;
  while (got < sizeof buf) {
    ssize_t n = read(c.right[1], buf, sizeof buf);
    if (n <= 0) break;
    got += (size_t)n;
  }
  check(got == sizeof buf && spliced(c.left[1]) == 128, "128 through, counted %lld", (long long)spliced(c.left[1]));
  (void)!write(c.left[0], "B", 1);
  check(read_byte(c.right[1]) == 'B', "the 129th passes");
  usleep(20000);
  check(!zc_shim_spliced_source(c.left[1]), "dissolved at the limit");
  (void)!write(c.left[0], "C", 1);
  check(read_byte(c.left[1]) == 'C', "the next byte is the source's");
  close_conn(&c);
}

static void idle(void) {
  current = "sp_idle: dissolved after that long without a byte, ETIMEDOUT";
  conn c = make_conn(0, 300);
  (void)!write(c.left[0], "M", 1);
  check(read_byte(c.right[1]) == 'M', "a byte passes");
  usleep(450000);
  check(!zc_shim_spliced_source(c.left[1]), "dissolved after 300 ms");
  check(so_error(c.left[1]) == ETIMEDOUT, "SO_ERROR is ETIMEDOUT");
  check(so_error(c.left[1]) == 0, "and read once");
  (void)!write(c.left[0], "C", 1);
  check(read_byte(c.left[1]) == 'C', "the next byte is the source's");
  close_conn(&c);
}

static void end_of_stream(void) {
  current = "the source's end of stream dissolves the splice, with no error";
  conn c = make_conn(0, 0);
  (void)!write(c.left[0], "xyz", 3);
  shutdown(c.left[0], SHUT_WR);
  char buf[4];
  size_t got = 0;
  while (got < 3) {
    ssize_t n = read(c.right[1], buf + got, 3 - got);
    if (n <= 0) break;
    got += (size_t)n;
  }
  check(got == 3, "the bytes before the end pass");
  usleep(20000);
  check(!zc_shim_spliced_source(c.left[1]), "dissolved");
  check(so_error(c.left[1]) == 0, "no error");
  check(read_byte(c.left[1]) == 256, "the source reads its end");
  check(spliced(c.left[1]) == 3, "3 counted");
  close_conn(&c);
}

static void drain_gone(void) {
  current = "a drain that cannot send dissolves the splice with an error on the source";
  conn c = make_conn(0, 0);
  close(c.right[1]);
  c.right[1] = socket(AF_INET, SOCK_STREAM, 0); /* for close_conn */
  char buf[65536];
  memset(buf, 'x', sizeof buf);
  for (int i = 0; i < 40 && zc_shim_spliced_source(c.left[1]); i++) {
    (void)!write(c.left[0], buf, sizeof buf);
    usleep(10000);
  }
  check(!zc_shim_spliced_source(c.left[1]), "dissolved");
  int err = so_error(c.left[1]);
  check(err == EPIPE || err == ECONNRESET, "SO_ERROR %d (%s), not EPIPE or ECONNRESET", err, strerror(err));
  close_conn(&c);
}

int main(void) {
  signal(SIGPIPE, SIG_IGN);
  alarm(60);
  basic();
  errors();
  kevents();
  limit();
  idle();
  end_of_stream();
  drain_gone();
  printf("sosplice harness: %d checks, %d failures\n", checks, failures);
  return failures == 0 ? 0 : 1;
}
