/* A C driver of one readiness waiter (native/waiter.h), linked with the
 * waiter's file and, for another system's waiter, its syscall shim. Test
 * code: never shipped. test/waiter-harness.test.ts builds it for every
 * waiter this machine can run: epoll and poll natively, kqueue, event
 * ports and /dev/poll against test/shims/{kqueue,ports,devpoll}.c.
 *
 * What it asserts, one case at a time, through the interface alone:
 * - one report per arming: a writable socket armed once is reported once,
 *   not again until it is armed again, and again each time it is; the
 *   64-bit token comes back whole;
 * - a wait with nothing ready blocks until woken (it does not return for a
 *   descriptor that was reported and not armed again);
 * - wake-ups: one made before a wait makes it return, one from another
 *   thread ends a wait in progress, and a hundred thousand in a row leave
 *   the waiter able to arm and report (event ports count queued wake-ups
 *   against the limit that associations share);
 * - arming from another thread reaches a wait in progress;
 * - forget before close: no report after it, whether the descriptor was
 *   writable already, becomes writable later, or was a duplicate whose
 *   original stays open; and a reused descriptor number armed under a new
 *   token reports only that one;
 * - 200 descriptors with full buffers: only the one whose peer reads is
 *   reported, then the others once their peers read too;
 * - a full TCP socket is reported when its peer reads; a full pipe when its
 *   reader reads; a full socket whose peer closes is reported (the next
 *   write reports the error);
 * - outputs that never block (/dev/null, a regular file): arm says EPERM,
 *   or the wait reports them;
 * - readability: a descriptor armed for reading is reported for bytes to
 *   read and for its peer's end, not for room to write; forget drops such
 *   a registration too; armed for both, it is reported when either holds;
 *   arming again for other events replaces them.
 *
 * Sockets that must stay full are Unix-domain pairs: Linux charges what
 * they hold to the sender until the peer reads it, so they do not become
 * writable on their own, as TCP can when acknowledgements free its buffer.
 *
 * No case depends on time to pass: waits for a report last until it comes,
 * woken every few milliseconds by a helper thread so that a missing report
 * is noticed; each case has a time limit, after which it fails naming
 * itself, and the run ends after the first case that failed.
 *
 * Run: waiter_harness [--case-limit SECONDS] (default 10). Last line:
 * "waiter harness <name>: <n> checks, <m> failures"; exit code 0 only with
 * none, 2 for a usage error. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../../native/waiter.h"

#define CASE_LIMIT 10          /* seconds one case may take */
#define REPORT_LIMIT_MS 10000  /* how long a report is waited for */
#define TICK_MS 5              /* the helper's wake-ups while waiting for one */
#define MANY 200               /* descriptors in the many-descriptors case */
#define WAKES 100000           /* wake-ups in a row */
#define REARMS 50              /* re-armings in a row */

static zc_waiter *w;
static int checks, failures;
static const char *current = "opening the waiter";

static void report_failure(const char *fmt, va_list ap) {
  failures++;
  printf("FAIL %s: ", current);
  vprintf(fmt, ap);
  printf("\n");
  fflush(stdout);
}

static void fail(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  report_failure(fmt, ap);
  va_end(ap);
}

static void check(int ok, const char *fmt, ...) {
  checks++;
  if (ok) return;
  va_list ap;
  va_start(ap, fmt);
  report_failure(fmt, ap);
  va_end(ap);
}

static void say(const char *text) { (void)!write(STDOUT_FILENO, text, strlen(text)); }

static void on_time_limit(int sig) {
  (void)sig;
  say("FAIL ");
  say(current);
  say(": time limit reached (a wait that never returned, or a report that never came)\n");
  say("waiter harness ");
  say(zc_waiter_name);
  say(": stopped by the time limit, 1 failures\n");
  _exit(1);
}

static int case_limit = CASE_LIMIT;

static void summary(void) {
  printf("waiter harness %s: %d checks, %d failures\n", zc_waiter_name, checks, failures);
}

/* Starts a case; after a case that failed, the run ends there. */
static void begin(const char *name) {
  if (failures > 0) {
    summary();
    exit(1);
  }
  current = name;
  alarm((unsigned)case_limit);
}

/* ---- descriptors ---- */

static void nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

/* A connected Unix-domain stream pair with small buffers, both ends
 * non-blocking. */
static void unix_pair(int *out, int *in) {
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0) {
    perror("waiter harness: socketpair");
    exit(2);
  }
  int size = 4096;
  setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  nonblocking(sv[0]);
  nonblocking(sv[1]);
  *out = sv[0];
  *in = sv[1];
}

/* A connected loopback TCP pair with small buffers; *out non-blocking. */
static void tcp_pair(int *out, int *in) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  int size = 16384;
  *out = socket(AF_INET, SOCK_STREAM, 0);
  setsockopt(*out, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (listener < 0 || *out < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0 ||
      connect(*out, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      (*in = accept(listener, NULL, NULL)) < 0) {
    perror("waiter harness: loopback TCP");
    exit(2);
  }
  setsockopt(*in, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  close(listener);
  nonblocking(*out);
}

/* Writes into fd until it would block. */
static void fill(int fd) {
  static char junk[65536];
  for (;;) {
    ssize_t n = write(fd, junk, sizeof junk);
    if (n > 0 || (n < 0 && errno == EINTR)) continue;
    if (n < 0 && errno == EAGAIN) return;
    perror("waiter harness: fill");
    exit(2);
  }
}

/* Reads from a non-blocking fd until it would block or ends. */
static void drain(int fd) {
  char buf[65536];
  while (read(fd, buf, sizeof buf) > 0) {
  }
}

/* ---- waiting ---- */

static atomic_int ticking;

static void *ticker(void *arg) {
  (void)arg;
  while (atomic_load(&ticking)) {
    zc_waiter_wake(w);
    usleep(TICK_MS * 1000);
  }
  return NULL;
}

static long long now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int index_of(const uint64_t *list, int n, uint64_t token) {
  for (int i = 0; i < n; i++)
    if (list[i] == token) return i;
  return -1;
}

/* Waits until each of `want` has been reported, once, and nothing else:
 * a token reported twice, or one not wanted, fails. */
static void expect_reports(const uint64_t *want, int nwant, const char *what) {
  char *seen = calloc((size_t)nwant + 1, 1);
  int nseen = 0;
  atomic_store(&ticking, 1);
  pthread_t t;
  pthread_create(&t, NULL, ticker, NULL);
  long long deadline = now_ms() + REPORT_LIMIT_MS;
  while (nseen < nwant && now_ms() < deadline) {
    uint64_t got[64];
    int n = zc_waiter_wait(w, got, 64);
    for (int i = 0; i < n; i++) {
      int at = index_of(want, nwant, got[i]);
      if (at < 0) {
        fail("%s: reported token %#llx, which was not armed or not ready", what, (unsigned long long)got[i]);
      } else if (seen[at]) {
        fail("%s: reported token %#llx twice for one arming", what, (unsigned long long)got[i]);
      } else {
        seen[at] = 1;
        nseen++;
      }
    }
  }
  atomic_store(&ticking, 0);
  pthread_join(t, NULL);
  checks++;
  if (nseen < nwant) {
    int missing = 0;
    while (seen[missing]) missing++;
    fail("%s: %d of %d reports came within %d ms; token %#llx never did", what, nseen, nwant,
         REPORT_LIMIT_MS, (unsigned long long)want[missing]);
  }
  free(seen);
}

/* Wakes the waiter and waits: nothing may be reported. Twice, so that a
 * report racing the first wake-up shows in the second wait. */
static void expect_quiet(const char *what) {
  for (int round = 0; round < 2; round++) {
    zc_waiter_wake(w);
    uint64_t got[64];
    int n = zc_waiter_wait(w, got, 64);
    checks++;
    if (n != 0) fail("%s: reported token %#llx", what, (unsigned long long)got[0]);
  }
}

typedef struct delayed {
  int ms;
  atomic_int done;
  int fd;
  uint64_t token;
  int result;
} delayed;

static void *wake_later(void *arg) {
  delayed *d = arg;
  usleep(d->ms * 1000);
  atomic_store(&d->done, 1);
  zc_waiter_wake(w);
  return NULL;
}

static void *arm_later(void *arg) {
  delayed *d = arg;
  usleep(d->ms * 1000);
  atomic_store(&d->done, 1);
  d->result = zc_waiter_arm(w, d->fd, d->token, ZC_WAIT_WRITE, 0);
  return NULL;
}

/* Consumes any wake-up still pending, then checks that a wait with nothing
 * ready returns only once another thread has woken it. */
static void expect_blocks(const char *what) {
  zc_waiter_wake(w);
  uint64_t got[64];
  (void)zc_waiter_wait(w, got, 64);
  delayed d = {.ms = 50};
  pthread_t t;
  pthread_create(&t, NULL, wake_later, &d);
  int n = zc_waiter_wait(w, got, 64);
  int woken = atomic_load(&d.done);
  pthread_join(t, NULL);
  check(n == 0 && woken, "%s: the wait returned %d tokens %s", what, n,
        woken ? "after the wake-up" : "before anything woke it or became ready");
}

/* ---- the cases ---- */

static void one_report_per_arming(void) {
  begin("one report per arming");
  int out, in;
  unix_pair(&out, &in);
  /* A token with high bits: it must come back whole. */
  uint64_t token = 0xFEDCBA9876543210ull;
  check(zc_waiter_arm(w, out, token, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  expect_reports(&token, 1, "a writable socket, armed once");
  expect_quiet("after its report, not armed again");
  expect_blocks("after its report, not armed again");

  begin("re-arming after each report");
  for (int i = 0; i < REARMS; i++) {
    check(zc_waiter_arm(w, out, token, ZC_WAIT_WRITE, 1) == 0, "arm again failed (round %d)", i);
    expect_reports(&token, 1, "armed again");
  }
  expect_quiet("after the last report");
  zc_waiter_forget(w, out);
  close(out);
  close(in);
}

static void wake_ups(void) {
  begin("a wake-up before the wait");
  uint64_t got[64];
  zc_waiter_wake(w);
  check(zc_waiter_wait(w, got, 64) == 0, "the wait reported something");

  begin("a wake-up from another thread during a wait");
  int out, in;
  unix_pair(&out, &in);
  fill(out);
  check(zc_waiter_arm(w, out, 7, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  delayed d = {.ms = 20};
  pthread_t t;
  pthread_create(&t, NULL, wake_later, &d);
  int n = zc_waiter_wait(w, got, 64);
  pthread_join(t, NULL);
  check(n == 0 && atomic_load(&d.done), "the wait returned %d tokens, %s the wake-up", n,
        atomic_load(&d.done) ? "after" : "before");

  begin("a hundred thousand wake-ups in a row");
  for (int i = 0; i < WAKES; i++) zc_waiter_wake(w);
  int ready, peer;
  unix_pair(&ready, &peer);
  int err = zc_waiter_arm(w, ready, 8, ZC_WAIT_WRITE, 0);
  check(err == 0, "arm after the wake-ups failed: %s", strerror(err));
  if (err == 0) expect_reports((uint64_t[]){8}, 1, "armed after the wake-ups");
  zc_waiter_forget(w, ready);
  close(ready);
  close(peer);
  zc_waiter_forget(w, out);
  close(out);
  close(in);
}

static void arm_from_another_thread(void) {
  begin("arming from another thread during a wait");
  int out, in;
  unix_pair(&out, &in);
  delayed d = {.ms = 20, .fd = out, .token = 9};
  pthread_t t;
  pthread_create(&t, NULL, arm_later, &d);
  uint64_t got[64];
  int n;
  /* A waiter may return empty-handed once (poll(2) wakes itself to take
   * the new descriptor in); no ticker here, so only the arming ends it. */
  do n = zc_waiter_wait(w, got, 64);
  while (n == 0);
  pthread_join(t, NULL);
  check(d.result == 0, "arm failed: %s", strerror(d.result));
  check(n == 1 && got[0] == 9, "the wait returned %d tokens, the first %#llx", n, (unsigned long long)got[0]);
  zc_waiter_forget(w, out);
  close(out);
  close(in);
}

static void forget_before_close(void) {
  begin("forget before close, writable");
  int out, in;
  unix_pair(&out, &in);
  check(zc_waiter_arm(w, out, 10, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  zc_waiter_forget(w, out);
  close(out);
  close(in);
  expect_quiet("forgotten and closed while writable");

  begin("forget before close, a duplicate whose original stays open");
  unix_pair(&out, &in);
  int dup_fd = dup(out);
  check(zc_waiter_arm(w, dup_fd, 11, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  zc_waiter_forget(w, dup_fd);
  close(dup_fd);
  expect_quiet("the duplicate forgotten and closed, the original open and writable");

  begin("forgotten while full, then the peer reads");
  int full, reader;
  unix_pair(&full, &reader);
  fill(full);
  check(zc_waiter_arm(w, full, 12, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  zc_waiter_forget(w, full);
  drain(reader);
  expect_quiet("forgotten while full, its peer has read everything");
  close(full);
  close(reader);

  begin("a reused descriptor number under a new token");
  int number = out;
  check(zc_waiter_arm(w, number, 13, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  zc_waiter_forget(w, number);
  close(number);
  close(in);
  int reused, peer;
  unix_pair(&reused, &peer);
  if (reused != number) {
    dup2(reused, number);
    close(reused);
  }
  check(zc_waiter_arm(w, number, 14, ZC_WAIT_WRITE, 0) == 0, "arm of the reused number failed");
  expect_reports((uint64_t[]){14}, 1, "the reused number");
  expect_quiet("after the reused number's report");
  zc_waiter_forget(w, number);
  close(number);
  close(peer);
}

static void many_descriptors(void) {
  begin("200 descriptors, one ready");
  int out[MANY], in[MANY];
  uint64_t tokens[MANY];
  for (int i = 0; i < MANY; i++) {
    unix_pair(&out[i], &in[i]);
    fill(out[i]);
    tokens[i] = 1000 + (uint64_t)i;
    check(zc_waiter_arm(w, out[i], tokens[i], ZC_WAIT_WRITE, 0) == 0, "arm %d failed", i);
  }
  expect_quiet("all full");
  const int one = 137;
  drain(in[one]);
  expect_reports(&tokens[one], 1, "the one whose peer read");
  expect_quiet("the others still full");

  begin("200 descriptors, then the others ready");
  uint64_t rest[MANY - 1];
  int n = 0;
  for (int i = 0; i < MANY; i++) {
    if (i == one) continue;
    drain(in[i]);
    rest[n++] = tokens[i];
  }
  expect_reports(rest, n, "the others, once their peers read");
  expect_quiet("all reported");
  for (int i = 0; i < MANY; i++) {
    zc_waiter_forget(w, out[i]);
    close(out[i]);
    close(in[i]);
  }
}

static void *read_until_end(void *arg) {
  int fd = *(int *)arg;
  char buf[65536];
  while (read(fd, buf, sizeof buf) > 0) {
  }
  return NULL;
}

static void becoming_writable(void) {
  begin("a full TCP socket, its peer reads");
  int out, in;
  tcp_pair(&out, &in);
  fill(out);
  check(zc_waiter_arm(w, out, 20, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  pthread_t t;
  pthread_create(&t, NULL, read_until_end, &in);
  expect_reports((uint64_t[]){20}, 1, "the full TCP socket, its peer reading");
  zc_waiter_forget(w, out);
  close(out);
  pthread_join(t, NULL);
  close(in);

  begin("a full pipe, its reader reads");
  int p[2];
  if (pipe(p) != 0) {
    perror("waiter harness: pipe");
    exit(2);
  }
  nonblocking(p[0]);
  nonblocking(p[1]);
  fill(p[1]);
  check(zc_waiter_arm(w, p[1], 21, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  expect_quiet("the pipe full");
  drain(p[0]);
  expect_reports((uint64_t[]){21}, 1, "the pipe, once read");
  zc_waiter_forget(w, p[1]);
  close(p[1]);
  close(p[0]);

  begin("a full socket whose peer closes");
  unix_pair(&out, &in);
  fill(out);
  check(zc_waiter_arm(w, out, 22, ZC_WAIT_WRITE, 0) == 0, "arm failed");
  expect_quiet("full, its peer open");
  close(in);
  expect_reports((uint64_t[]){22}, 1, "its peer closed");
  zc_waiter_forget(w, out);
  close(out);
}

/* Waits for the first report; fails unless it is `token`. For descriptors
 * armed for both kinds, which may be reported once for each. */
static void expect_first_report(uint64_t token, const char *what) {
  atomic_store(&ticking, 1);
  pthread_t t;
  pthread_create(&t, NULL, ticker, NULL);
  long long deadline = now_ms() + REPORT_LIMIT_MS;
  int n = 0;
  uint64_t got[64];
  while (n == 0 && now_ms() < deadline) n = zc_waiter_wait(w, got, 64);
  atomic_store(&ticking, 0);
  pthread_join(t, NULL);
  checks++;
  if (n == 0) fail("%s: no report within %d ms", what, REPORT_LIMIT_MS);
  for (int i = 0; i < n; i++)
    if (got[i] != token) fail("%s: reported token %#llx, not %#llx", what, (unsigned long long)got[i], (unsigned long long)token);
}

static void readability(void) {
  begin("armed for reading, nothing to read");
  int out, in;
  unix_pair(&out, &in);
  /* `in` is writable all along: only bytes to read may report it. */
  check(zc_waiter_arm(w, in, 40, ZC_WAIT_READ, 0) == 0, "arm failed");
  expect_quiet("nothing to read, though writable");
  (void)!write(out, "x", 1);
  expect_reports((uint64_t[]){40}, 1, "a byte to read");
  expect_quiet("after its report, not armed again");

  begin("armed for reading again, the byte still unread");
  check(zc_waiter_arm(w, in, 40, ZC_WAIT_READ, 1) == 0, "arm again failed");
  expect_reports((uint64_t[]){40}, 1, "the unread byte");
  drain(in);
  check(zc_waiter_arm(w, in, 40, ZC_WAIT_READ, 1) == 0, "arm again failed");
  expect_quiet("everything read");

  begin("the peer's end, to a reader");
  shutdown(out, SHUT_WR);
  expect_reports((uint64_t[]){40}, 1, "the peer's end of stream");
  zc_waiter_forget(w, in);
  close(out);
  close(in);

  begin("forget drops a registration for reading");
  unix_pair(&out, &in);
  check(zc_waiter_arm(w, in, 41, ZC_WAIT_READ, 0) == 0, "arm failed");
  zc_waiter_forget(w, in);
  (void)!write(out, "x", 1);
  expect_quiet("forgotten, then a byte to read");
  close(out);
  close(in);

  begin("a pipe's read end");
  int p[2];
  if (pipe(p) != 0) {
    perror("waiter harness: pipe");
    exit(2);
  }
  nonblocking(p[0]);
  check(zc_waiter_arm(w, p[0], 42, ZC_WAIT_READ, 0) == 0, "arm failed");
  expect_quiet("an empty pipe");
  (void)!write(p[1], "x", 1);
  expect_reports((uint64_t[]){42}, 1, "a byte in the pipe");
  zc_waiter_forget(w, p[0]);
  close(p[0]);
  close(p[1]);

  begin("armed for both, readable though full");
  unix_pair(&out, &in);
  fill(out);
  check(zc_waiter_arm(w, out, 43, ZC_WAIT_READ | ZC_WAIT_WRITE, 0) == 0, "arm failed");
  expect_quiet("full, nothing to read");
  (void)!write(in, "x", 1);
  expect_first_report(43, "a byte to read on a full socket");
  zc_waiter_forget(w, out);
  close(out);
  close(in);

  begin("armed for both, writable with nothing to read");
  unix_pair(&out, &in);
  fill(out);
  check(zc_waiter_arm(w, out, 44, ZC_WAIT_READ | ZC_WAIT_WRITE, 0) == 0, "arm failed");
  expect_quiet("full, nothing to read");
  drain(in);
  expect_first_report(44, "room again, nothing to read");
  zc_waiter_forget(w, out);
  close(out);
  close(in);

  begin("arming again for other events replaces them");
  unix_pair(&out, &in);
  check(zc_waiter_arm(w, in, 45, ZC_WAIT_READ, 0) == 0, "arm failed");
  expect_quiet("armed for reading, nothing to read");
  check(zc_waiter_arm(w, in, 46, ZC_WAIT_WRITE, 1) == 0, "arm for writing failed");
  expect_reports((uint64_t[]){46}, 1, "armed again for writing, under a new token");
  zc_waiter_forget(w, in);
  close(out);
  close(in);
}

static void never_blocking(const char *what, int fd, uint64_t token) {
  begin(what);
  int err = zc_waiter_arm(w, fd, token, ZC_WAIT_WRITE, 0);
  check(err == 0 || err == EPERM, "arm gave %s, not 0 or EPERM", strerror(err));
  if (err == 0) {
    expect_reports(&token, 1, what);
    zc_waiter_forget(w, fd);
  }
  close(fd);
}

int main(int argc, char **argv) {
  if (argc == 3 && strcmp(argv[1], "--case-limit") == 0) {
    case_limit = atoi(argv[2]);
  } else if (argc != 1) {
    fprintf(stderr, "usage: %s [--case-limit SECONDS]\n", argv[0]);
    return 2;
  }
  signal(SIGALRM, on_time_limit);
  signal(SIGPIPE, SIG_IGN);
  alarm((unsigned)case_limit);
  w = zc_waiter_open();
  if (!w) {
    printf("FAIL opening the %s waiter: %s\n", zc_waiter_name, strerror(errno));
    failures = 1;
    summary();
    return 1;
  }
  one_report_per_arming();
  wake_ups();
  arm_from_another_thread();
  forget_before_close();
  many_descriptors();
  becoming_writable();
  readability();
  never_blocking("/dev/null, which never blocks", open("/dev/null", O_WRONLY), 30);
  char path[] = "/tmp/zc-waiter-XXXXXX";
  int file = mkstemp(path);
  unlink(path);
  never_blocking("a regular file, which never blocks", file, 31);
  alarm(0);
  zc_waiter_close(w);
  summary();
  return failures == 0 ? 0 : 1;
}
