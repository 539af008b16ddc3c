/* A C driver of the real shared loop (native/shared/send_loop.c, zc_run)
 * against one backend compiled for another system and linked with that
 * system's syscall shim. Test code: never shipped.
 *
 * Why it exists beside test/conformance.test.ts: the JS API checks its
 * arguments and the file's size before any native code runs, so some inputs
 * never reach a backend through it. This driver hands zc_run and the
 * backend's step what the JS layer would refuse or cannot express:
 *
 * - up to 40 header and 40 trailer buffers (more than one call's batch of
 *   ZC_IOV_BATCH, and more than the one slot HP-UX has), empty ones among
 *   them, even at the front of a list;
 * - a file already shorter than the range before the first call, cut
 *   anywhere: before the offset, at it, or inside the range (the JS layer
 *   sees those sizes first; here the loop's end-of-file rules have to
 *   notice, also when the headers travel in the same call);
 * - a regular-file output (Solaris only: sendfilev writes to files, the
 *   addon sends them to the fallbacks for now) and, through the shim's
 *   ZEROCOPY_SHIM_SOLARIS_EOF=einval, the manual's end-of-file behaviour;
 * - budgets of one byte and up, so zc_run stops and restarts anywhere;
 * - through the shim's ZEROCOPY_SHIM_REFUSE=<errno name>, a system call
 *   that refuses every transfer before sending anything, so that the loop
 *   hands it to the next backend of this program's zc_backends
 *   (readwrite), which must finish it from where it stands.
 *
 * Every transfer runs over loopback TCP with small socket buffers (the
 * output non-blocking, as the Node glue makes it; EAGAIN is met with
 * poll(), as the driver thread does), sometimes against a slow reader.
 * ZEROCOPY_SHIM_FAULTS=<seed> makes the shim cut calls short and report
 * EAGAIN or EINTR, with or without progress.
 *
 * What it asserts, per transfer:
 * - a whole file: zc_run ends with 0, the peer received headers + range +
 *   trailers byte for byte, and t.sent says as much;
 * - a file too short: zc_run ends with ZC_ETRUNCATED, t.sent is what the
 *   peer received, and what it received agrees with the headers and the
 *   part of the range the file has, as far as both go. (Bytes past that
 *   point are not checked: FreeBSD's kernel, and the HP-UX shim modelling
 *   the undocumented case harshly, send trailers after a short file within
 *   one call, and the transfer fails either way.)
 * - every step keeps to what it was given: it never reports more bytes
 *   than the call it was handed holds (headers, one chunk of the file,
 *   trailers), since zc_run would count the excess as sent, and it changes
 *   nothing in that call but leaving the trailers out;
 * - the transfer stays with the backend under test unless its call
 *   refused (ZEROCOPY_SHIM_REFUSE), and one that ends well after a refusal
 *   ended on readwrite;
 * - no transfer stalls: a step that keeps moving nothing, with no error or
 *   EINTR (zc_run would call it forever), a transfer whose zc_run calls
 *   stop making progress, or a run past the time limit, is a failure.
 *
 * Build (test/shim-harness.test.ts does this for every shimmed system):
 *
 *   cc -c -include test/shims/freebsd.h -DZEROCOPY_SHIM=1 \
 *      native/bsd/sendfile_freebsd.c -o backend.o
 *   cc -DHARNESS_SYSTEM=freebsd -DHARNESS_BACKEND=zc_freebsd_sendfile \
 *      test/shims/harness.c native/shared/send_loop.c \
 *      native/fallback/readwrite.c \
 *      test/shims/freebsd.c test/shims/faults.c backend.o -pthread \
 *      -o harness-freebsd
 *
 * (plus -D_FILE_OFFSET_BITS=64 everywhere, as CMakeLists.txt sets.)
 *
 * Run: harness [--rounds N] [--seed S] [--output tcp|file] [--time-limit SECONDS]
 * The last line of output is the summary, ending in "<n> failures"; the
 * exit code is 0 only with none (2 for a usage error or the time limit).
 * Each failing transfer prints one "FAIL" line naming its round. A round's
 * sizes and bytes depend only on --seed, so a failure replays with the same
 * arguments and environment (the shim's faults follow the calls made, and
 * so may land elsewhere once the backend changes). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../native/zerocopy.h"

#if !defined(HARNESS_SYSTEM) || !defined(HARNESS_BACKEND)
#error "build with -DHARNESS_SYSTEM=<solaris|hpux|freebsd|darwin> -DHARNESS_BACKEND=<its zc_backend symbol>"
#endif
#define STRINGIFY_(x) #x
#define STRINGIFY(x) STRINGIFY_(x)
#define SYSTEM_NAME STRINGIFY(HARNESS_SYSTEM)

/* The backend under test, its step wrapped by checked_step below, then the
 * fallback: the list the loop falls back along, in place of
 * native/shared/backends.c (whose system backend is Linux's here). mmap is
 * left out: on a file already too short before the transfer, which the JS
 * layer never lets through, it sends zeros to the end of the last page, and
 * a write to TCP that crosses the end of the file fails whole with EFAULT. */
extern const zc_backend HARNESS_BACKEND;
extern const zc_backend zc_fallback_readwrite;
static const zc_backend *const backend = &HARNESS_BACKEND;
static zc_backend checked; /* *backend with checked_step: set up in main */
const zc_backend *const zc_backends[] = {&checked, &zc_fallback_readwrite, NULL};

/* Results of the checked step below, outside the errno range like
 * ZC_ETRUNCATED; zc_run returns them as it would any error. */
#define HARNESS_OVERRUN 100001 /* a step reported more bytes than it was given */
#define HARNESS_SPIN 100002    /* a step kept moving nothing, saying nothing */

#define MAX_BUFFERS 40           /* header or trailer buffers per transfer */
#define MAX_FILE (1u << 20)      /* largest input file */
#define SOCKET_BUFFER 32768      /* SO_SNDBUF and SO_RCVBUF of the pair */
#define STALLED_CALLS 10000      /* zc_run calls without progress = stalled */
#define IDLE_STEPS 1000          /* steps moving nothing, no error = spinning */
#define TIME_LIMIT 60            /* default seconds for the whole run */
#define REPORTED_FAILURES 20     /* FAIL lines printed; the rest are counted */

/* ---- random numbers: xorshift64, one state per thread of use ---- */

static uint64_t next_random(uint64_t *state) {
  *state ^= *state << 13;
  *state ^= *state >> 7;
  *state ^= *state << 17;
  return *state;
}

/* ZEROCOPY_SHIM_REFUSE: the errno name with which the shim refuses every
 * call, or NULL. */
static const char *refusal;

/* The main thread's: what each transfer is (sizes, buffers, bytes), so a
 * round is the same from run to run and backend to backend. */
static uint64_t rng = 88172645463325252ull;
/* zc_run's budgets, whose number depends on how the transfer goes. */
static uint64_t budget_rng = 0x2545F4914F6CDD1Dull;

static uint64_t rnd(void) { return next_random(&rng); }

/* Uniform enough in [0, n]. */
static uint64_t upto(uint64_t n) { return n ? rnd() % (n + 1) : 0; }

/* ---- reporting ---- */

static int failures;
/* The transfer in progress, for the time-limit handler. */
static char current[160] = "setting up";

static void fail(const char *fmt, ...) {
  if (++failures > REPORTED_FAILURES) return;
  va_list ap;
  va_start(ap, fmt);
  printf("FAIL %s: ", current);
  vprintf(fmt, ap);
  printf("\n");
  va_end(ap);
  fflush(stdout);
}

/* For the signal handler: write(2) is async-signal-safe, printf is not. */
static void say(const char *text) {
  ssize_t n = write(STDOUT_FILENO, text, strlen(text));
  (void)n;
}

static void on_time_limit(int sig) {
  (void)sig;
  say("FAIL time limit reached during ");
  say(current);
  say("\nharness " SYSTEM_NAME ": stopped by the time limit, 1 failures\n");
  _exit(2);
}

/* ---- the backend's step, watched ---- */

/* Why the checked step stopped a transfer, for its FAIL line. */
static char violation[200];
/* Steps in a row that moved nothing and gave zc_run no reason to stop. */
static int idle_steps;

/* The backend's step, checked after each call. zc_run itself trusts it. */
static void checked_step(zc_transfer *t, void *state, zc_call *c) {
  zc_call given = *c;
  backend->step(t, state, c);
  int trailers_left_out = c->trailers == NULL && c->ntrailers == 0;
  if (c->headers != given.headers || c->nheaders != given.nheaders || c->offset != given.offset ||
      c->file_len != given.file_len ||
      (!trailers_left_out && (c->trailers != given.trailers || c->ntrailers != given.ntrailers))) {
    snprintf(violation, sizeof violation,
             "step (%s) changed the call it was handed beyond leaving the trailers out",
             t->call ? t->call : "?");
    c->err = HARNESS_OVERRUN;
    return;
  }
  uint64_t due = zc_iov_bytes(c->headers, c->nheaders) + c->file_len +
                 zc_iov_bytes(c->trailers, c->ntrailers);
  if (c->moved > due) {
    snprintf(violation, sizeof violation,
             "step (%s) reported %llu bytes moved, with only %llu due in headers, one chunk and trailers",
             t->call ? t->call : "?", (unsigned long long)c->moved, (unsigned long long)due);
    c->err = HARNESS_OVERRUN;
    return;
  }
  /* zc_run takes "nothing moved, no error" from a call with file bytes as
   * end of file, and retries EINTR: either, again and again, would spin. */
  idle_steps = c->moved == 0 && (c->err == 0 || c->err == EINTR) ? idle_steps + 1 : 0;
  if (idle_steps >= IDLE_STEPS) {
    snprintf(violation, sizeof violation,
             "step (%s) moved nothing %d times in a row without an error, with %d headers, "
             "%llu file bytes and %d trailers due: zc_run would spin",
             t->call ? t->call : "?", IDLE_STEPS, t->nheaders, (unsigned long long)t->remaining,
             t->ntrailers);
    c->err = HARNESS_SPIN;
  }
}

static const char *describe(int result) {
  static char text[64];
  switch (result) {
    case 0: return "0";
    case ZC_ETRUNCATED: return "ZC_ETRUNCATED";
    case HARNESS_OVERRUN: return "an overrun";
    case HARNESS_SPIN: return "a spinning step";
    case -1: return "a stall";
    default: snprintf(text, sizeof text, "%d (%s)", result, strerror(result)); return text;
  }
}

/* ---- the receiving end ---- */

typedef struct reader {
  int fd;
  int slow;        /* small reads with pauses, so the sender meets EAGAIN */
  uint64_t rng;    /* its own generator: the main thread's is not shared */
  unsigned char *buf;
  size_t len, cap;
} reader;

static void *read_all(void *arg) {
  reader *r = arg;
  for (;;) {
    if (r->len + 65536 > r->cap) {
      r->cap = r->cap * 2 + 65536;
      r->buf = realloc(r->buf, r->cap);
      if (r->buf == NULL) abort();
    }
    size_t want = r->slow ? 1 + next_random(&r->rng) % 60000 : 65536;
    ssize_t n = read(r->fd, r->buf + r->len, want);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    r->len += (size_t)n;
    if (r->slow && next_random(&r->rng) % 8 == 0) usleep(50);
  }
  return NULL;
}

/* A connected loopback TCP pair with small buffers; *out is non-blocking. */
static void tcp_pair(int *out, int *in) {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in addr = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof addr;
  if (listener < 0 || bind(listener, (struct sockaddr *)&addr, sizeof addr) != 0 ||
      listen(listener, 1) != 0 || getsockname(listener, (struct sockaddr *)&addr, &len) != 0) {
    perror("harness: listener");
    exit(2);
  }
  *out = socket(AF_INET, SOCK_STREAM, 0);
  int size = SOCKET_BUFFER;
  setsockopt(*out, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  if (connect(*out, (struct sockaddr *)&addr, sizeof addr) != 0) {
    perror("harness: connect");
    exit(2);
  }
  *in = accept(listener, NULL, NULL);
  if (*in < 0) {
    perror("harness: accept");
    exit(2);
  }
  setsockopt(*in, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  close(listener);
  fcntl(*out, F_SETFL, fcntl(*out, F_GETFL) | O_NONBLOCK);
}

/* ---- one transfer ---- */

/* n buffers of random bytes, about one in five empty, most of them small;
 * all of them live in one allocation, *store, *total bytes long. */
static struct iovec *make_buffers(int n, unsigned char **store, size_t *total) {
  struct iovec *iov = calloc((size_t)n + 1, sizeof *iov);
  size_t sizes[MAX_BUFFERS], sum = 0;
  for (int i = 0; i < n; i++) {
    sizes[i] = rnd() % 5 == 0 ? 0 : upto(rnd() % 4 ? 300 : 40000);
    sum += sizes[i];
  }
  *store = malloc(sum + 1);
  for (size_t i = 0; i < sum; i++) (*store)[i] = (unsigned char)rnd();
  size_t at = 0;
  for (int i = 0; i < n; i++) {
    iov[i].iov_base = *store + at;
    iov[i].iov_len = sizes[i];
    at += sizes[i];
  }
  *total = sum;
  return iov;
}

/* Where two byte strings first differ (n when they agree for n bytes), and
 * which part of the expected output that is. */
static size_t first_difference(const unsigned char *a, const unsigned char *b, size_t n) {
  size_t i = 0;
  while (i < n && a[i] == b[i]) i++;
  return i;
}

static const char *part_at(size_t at, size_t hlen, uint64_t file_part) {
  return at < hlen ? "headers" : at < hlen + file_part ? "file" : "trailers";
}

/* What the Node glue does with zc_run: call it with a budget, wait for
 * writability on EAGAIN, call again on EINPROGRESS. Returns zc_run's final
 * result, -1 when the transfer stalled, or -2 when zc_run asked for another
 * call although nothing was left to send. */
static int drive(zc_transfer *t) {
  int stalled = 0;
  for (;;) {
    uint64_t before = t->sent;
    /* Budgets from 1 byte up: zc_run must stop and resume anywhere. */
    uint64_t limit = next_random(&budget_rng) % 2 ? 5000 : 1u << 22;
    uint64_t budget = 1 + next_random(&budget_rng) % (limit + 1);
    int r = zc_run(t, budget);
    /* Asked to be called again with nothing left: the glue would wait for
     * a paused peer to read before it settled a finished transfer. */
    if ((r == EINPROGRESS || r == EAGAIN) && zc_done(t)) return -2;
    if (r != EINPROGRESS && r != EAGAIN) return r;
    stalled = t->sent == before ? stalled + 1 : 0;
    if (stalled >= STALLED_CALLS) return -1;
    if (r == EAGAIN) {
      struct pollfd p = {.fd = t->out_fd, .events = POLLOUT};
      poll(&p, 1, 1000);
    }
  }
}

/* Sends [off, off + count) of a file holding the first file_size bytes of
 * `content`, between nh header and nt trailer buffers, and checks what
 * arrived. file_size < off + count makes it a truncated file. */
static void transfer(const unsigned char *content, uint64_t file_size, uint64_t off,
                     uint64_t count, int nh, int nt, int to_file) {
  char in_path[] = "/tmp/zc-harness-in-XXXXXX";
  int in = mkstemp(in_path);
  if (in < 0 || write(in, content, file_size) != (ssize_t)file_size) {
    perror("harness: input file");
    exit(2);
  }
  unlink(in_path);

  unsigned char *header_bytes, *trailer_bytes;
  size_t hlen, tlen;
  struct iovec *headers = make_buffers(nh, &header_bytes, &hlen);
  struct iovec *trailers = make_buffers(nt, &trailer_bytes, &tlen);

  int out, peer = -1;
  reader rd = {0};
  pthread_t reader_thread;
  if (to_file) {
    char out_path[] = "/tmp/zc-harness-out-XXXXXX";
    out = mkstemp(out_path);
    if (out < 0) {
      perror("harness: output file");
      exit(2);
    }
    unlink(out_path);
  } else {
    tcp_pair(&out, &peer);
    rd.fd = peer;
    rd.slow = rnd() % 3 == 0;
    rd.rng = rnd() | 1;
    pthread_create(&reader_thread, NULL, read_all, &rd);
  }

  zc_transfer t;
  memset(&t, 0, sizeof t);
  idle_steps = 0;
  t.out_fd = out;
  t.in_fd = in;
  t.out_kind = to_file ? ZC_OUT_FILE : ZC_OUT_TCP;
  t.headers = headers;
  t.nheaders = nh;
  t.offset = off;
  t.remaining = count;
  t.trailers = trailers;
  t.ntrailers = nt;
  /* As for sendFile's 'auto': a refused call may hand the transfer on. */
  t.may_fall_back = 1;
  int result = zc_begin(&t, &checked);
  if (result == 0) result = drive(&t);
  const zc_backend *carried_by = t.backend;
  zc_end(&t);

  unsigned char *got;
  size_t got_len;
  if (to_file) {
    struct stat st;
    fstat(out, &st);
    got_len = (size_t)st.st_size;
    got = malloc(got_len + 1);
    if (pread(out, got, got_len, 0) != (ssize_t)got_len) abort();
  } else {
    shutdown(out, SHUT_WR);
    pthread_join(reader_thread, NULL);
    got = rd.buf;
    got_len = rd.len;
    close(peer);
  }

  /* What should have arrived: headers, the part of the range the file
   * has, trailers. */
  int truncated = off + count > file_size;
  uint64_t file_part = count;
  if (truncated) file_part = off < file_size ? file_size - off : 0;
  size_t want_len = hlen + (size_t)file_part + tlen;
  unsigned char *want = malloc(want_len + 1);
  memcpy(want, header_bytes, hlen);
  memcpy(want + hlen, content + off, (size_t)file_part);
  memcpy(want + hlen + file_part, trailer_bytes, tlen);

  if (violation[0] != '\0') {
    fail("%s", violation);
    violation[0] = '\0';
  } else if (result == -2) {
    fail("zc_run asked to be called again with the transfer done, sent %llu of %zu",
         (unsigned long long)t.sent, want_len);
  } else if (result == -1) {
    fail("stalled: %d calls of zc_run without progress, sent %llu of %zu", STALLED_CALLS,
         (unsigned long long)t.sent, want_len);
  } else if (!truncated) {
    if (result != 0)
      fail("ended with %s, sent %llu of %zu", describe(result), (unsigned long long)t.sent,
           want_len);
    else if (got_len != want_len || memcmp(got, want, want_len) != 0) {
      size_t at = first_difference(got, want, got_len < want_len ? got_len : want_len);
      fail("received %zu bytes of %zu, differing from byte %zu on (in the %s)", got_len,
           want_len, at, part_at(at, hlen, file_part));
    } else if (t.sent != want_len)
      fail("t.sent is %llu, want %zu", (unsigned long long)t.sent, want_len);
  } else {
    size_t trusted = hlen + (size_t)file_part;
    size_t compared = got_len < trusted ? got_len : trusted;
    size_t at = first_difference(got, want, compared);
    if (result != ZC_ETRUNCATED)
      fail("file too short: ended with %s, want ZC_ETRUNCATED; sent %llu", describe(result),
           (unsigned long long)t.sent);
    else if (t.sent != got_len)
      fail("file too short: t.sent is %llu, the output got %zu", (unsigned long long)t.sent,
           got_len);
    else if (at < compared)
      fail("file too short: received bytes differ from byte %zu on (in the %s)", at,
           part_at(at, hlen, file_part));
  }

  /* Who carried it: the backend under test, unless its call refused. */
  if (refusal == NULL && carried_by != &checked)
    fail("ended on %s, yet the backend under test was never refused", carried_by->name);
  else if (refusal != NULL && result == 0 && count > 0 && carried_by != &zc_fallback_readwrite)
    fail("ended on %s after its call refused (%s), want readwrite, the next backend",
         carried_by->name, refusal);

  close(out);
  close(in);
  free(headers);
  free(trailers);
  free(header_bytes);
  free(trailer_bytes);
  free(want);
  free(got);
}

/* ---- the run ---- */

static void usage(void) {
  fprintf(stderr, "usage: harness [--rounds N] [--seed S] [--output tcp|file] [--time-limit SECONDS]\n");
  exit(2);
}

int main(int argc, char **argv) {
  int rounds = 80;
  unsigned long long seed = 1;
  int to_file = 0;
  unsigned time_limit = TIME_LIMIT;
  for (int i = 1; i < argc; i++) {
    if (i + 1 >= argc) usage();
    if (strcmp(argv[i], "--rounds") == 0) rounds = atoi(argv[++i]);
    else if (strcmp(argv[i], "--seed") == 0) seed = strtoull(argv[++i], NULL, 10);
    else if (strcmp(argv[i], "--time-limit") == 0) time_limit = (unsigned)atoi(argv[++i]);
    else if (strcmp(argv[i], "--output") == 0) {
      const char *o = argv[++i];
      if (strcmp(o, "file") == 0) to_file = 1;
      else if (strcmp(o, "tcp") != 0) usage();
    } else usage();
  }
  /* Of the shimmed systems only Solaris writes to regular files. */
  if (to_file && strcmp(SYSTEM_NAME, "solaris") != 0) {
    fprintf(stderr, "harness: --output file is for solaris only; %s sends to sockets\n",
            SYSTEM_NAME);
    return 2;
  }

  checked = *backend;
  checked.step = checked_step;
  refusal = getenv("ZEROCOPY_SHIM_REFUSE");
  if (refusal != NULL && *refusal == '\0') refusal = NULL;

  signal(SIGPIPE, SIG_IGN);
  signal(SIGALRM, on_time_limit);
  alarm(time_limit);
  setvbuf(stdout, NULL, _IOLBF, 0);
  rng ^= (seed + 1) * 0x9E3779B97F4A7C15ull;
  budget_rng ^= seed * 0x9E3779B97F4A7C15ull;
  if (rng == 0 || budget_rng == 0) rng = budget_rng = 1; /* xorshift's one dead state */

  unsigned char *content = malloc(MAX_FILE);
  for (size_t i = 0; i < MAX_FILE; i++) content[i] = (unsigned char)rnd();

  int transfers = 0;
  for (int i = 0; i < rounds; i++) {
    uint64_t size = rnd() % 4 ? upto(MAX_FILE) : upto(5000);
    uint64_t off = upto(size);
    uint64_t count = rnd() % 5 == 0 ? 0 : upto(size - off);
    int nh = (int)upto(rnd() % 3 ? 3 : MAX_BUFFERS);
    int nt = (int)upto(rnd() % 3 ? 3 : MAX_BUFFERS);
    snprintf(current, sizeof current,
             "round %d (file %llu, offset %llu, count %llu, %d headers, %d trailers)", i,
             (unsigned long long)size, (unsigned long long)off, (unsigned long long)count, nh, nt);
    transfer(content, size, off, count, nh, nt, to_file);
    transfers++;

    /* Every other round, the same range from a file already too short for
     * it: cut inside the range, at its offset, or before it. */
    if (i % 2 == 0 && count > 0) {
      uint64_t cut = rnd() % 3 == 0 ? off + upto(count - 1) : rnd() % 2 ? off : upto(off);
      snprintf(current, sizeof current,
               "round %d, file cut to %llu (offset %llu, count %llu, %d headers, %d trailers)", i,
               (unsigned long long)cut, (unsigned long long)off, (unsigned long long)count, nh,
               nt);
      transfer(content, cut, off, count, nh, nt, to_file);
      transfers++;
    }
  }
  alarm(0);

  const char *faults = getenv("ZEROCOPY_SHIM_FAULTS");
  const char *eof = getenv("ZEROCOPY_SHIM_SOLARIS_EOF");
  if (eof != NULL && *eof == '\0') eof = NULL;
  if (failures > REPORTED_FAILURES)
    printf("(%d more failures not shown)\n", failures - REPORTED_FAILURES);
  printf("harness %s (%s), output %s, seed %llu, faults %s%s%s%s%s: %d rounds, %d transfers, %d failures\n",
         SYSTEM_NAME, backend->name, to_file ? "file" : "tcp", seed,
         faults && *faults ? faults : "none", eof ? ", solaris eof " : "", eof ? eof : "",
         refusal ? ", refused " : "", refusal ? refusal : "", rounds, transfers, failures);
  free(content);
  return failures != 0;
}
