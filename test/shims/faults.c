/* See shim.h. */
#define _GNU_SOURCE
#include "shim.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

static pthread_mutex_t rng_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t rng_state;
static int faults_on = -1;

static uint64_t next_random(void) {
  /* xorshift64*: enough to scatter faults, reproducible from the seed. */
  rng_state ^= rng_state >> 12;
  rng_state ^= rng_state << 25;
  rng_state ^= rng_state >> 27;
  return rng_state * 0x2545F4914F6CDD1Dull;
}

typedef struct fault {
  uint64_t limit; /* most bytes this call may move */
  int err;        /* reported after moving them: 0, EAGAIN or EINTR */
} fault;

static fault next_fault(uint64_t wanted) {
  fault f = {UINT64_MAX, 0};
  pthread_mutex_lock(&rng_lock);
  if (faults_on < 0) {
    const char *seed = getenv("ZEROCOPY_SHIM_FAULTS");
    faults_on = seed != NULL && *seed != '\0';
    rng_state = faults_on ? strtoull(seed, NULL, 10) * 2654435761u + 1 : 1;
  }
  if (faults_on && wanted > 0) {
    uint64_t r = next_random();
    switch (r % 6) {
      case 0: case 1: /* a short call, cut at a random point */
        f.limit = 1 + (r >> 8) % wanted;
        break;
      case 2: /* EAGAIN, perhaps after moving some bytes, or all of them */
        f.limit = (r >> 8) % (wanted + 1);
        f.err = EAGAIN;
        break;
      case 3: /* EINTR, perhaps after moving some bytes */
        f.limit = (r >> 8) % wanted;
        f.err = EINTR;
        break;
      default:
        break;
    }
  }
  pthread_mutex_unlock(&rng_lock);
  return f;
}

uint64_t shim_fault_roll(void) {
  fault f = next_fault(1);
  if (!faults_on) return 0;
  pthread_mutex_lock(&rng_lock);
  uint64_t r = next_random() | 1;
  pthread_mutex_unlock(&rng_lock);
  (void)f;
  return r;
}

int shim_check_socket(int s, int inet_only, int refused) {
  struct stat st;
  if (fstat(s, &st) != 0) return EBADF;
  if (!S_ISSOCK(st.st_mode)) return ENOTSOCK;
  int type = 0;
  socklen_t len = sizeof type;
  if (getsockopt(s, SOL_SOCKET, SO_TYPE, &type, &len) != 0) return errno;
  struct sockaddr_storage addr;
  len = sizeof addr;
  if (getsockname(s, (struct sockaddr *)&addr, &len) != 0) return errno;
  int inet = addr.ss_family == AF_INET || addr.ss_family == AF_INET6;
  if (type != SOCK_STREAM || (inet_only && !inet)) return refused;
  len = sizeof addr;
  if (getpeername(s, (struct sockaddr *)&addr, &len) != 0) return ENOTCONN;
  return 0;
}

int shim_check_input(int fd, int not_regular) {
  struct stat st;
  if (fstat(fd, &st) != 0) return EBADF;
  int mode = fcntl(fd, F_GETFL);
  if (mode < 0 || (mode & O_ACCMODE) == O_WRONLY) return EBADF;
  return S_ISREG(st.st_mode) ? 0 : not_regular;
}

int shim_refusal(void) {
  static const struct { const char *name; int err; } known[] = {
      {"ENOSYS", ENOSYS}, {"EINVAL", EINVAL}, {"EOPNOTSUPP", EOPNOTSUPP}, {"ENOTSUP", ENOTSUP}};
  const char *name = getenv("ZEROCOPY_SHIM_REFUSE");
  if (name == NULL || *name == '\0') return 0;
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(name, known[i].name) == 0) return known[i].err;
  /* A name we do not know must not pass for "no refusal". */
  return ENOSYS;
}

uint64_t shim_file_size(int fd) {
  struct stat st;
  return fstat(fd, &st) == 0 ? (uint64_t)st.st_size : 0;
}

/* Writes at most `limit` bytes of an iovec array; returns bytes or -1. */
static ssize_t write_iov(int fd, const struct iovec *iov, int n, uint64_t limit) {
  struct iovec cut[64];
  int count = 0;
  for (int i = 0; i < n && count < 64 && limit > 0; i++) {
    cut[count] = iov[i];
    if (cut[count].iov_len > limit) cut[count].iov_len = limit;
    limit -= cut[count].iov_len;
    count++;
  }
  return count ? writev(fd, cut, count) : 0;
}

static uint64_t iov_total(const struct iovec *iov, int n) {
  uint64_t total = 0;
  for (int i = 0; i < n; i++) total += iov[i].iov_len;
  return total;
}

void shim_hold(uint64_t header_bytes, uint64_t offset) {
  const char *path = getenv("ZEROCOPY_SHIM_HOLD");
  if (path == NULL || *path == '\0' || syscall(SYS_gettid) == getpid()) return;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  if (strlen(path) >= sizeof addr.sun_path) return;
  strcpy(addr.sun_path, path);
  int saved = errno;
  int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (s >= 0 && connect(s, (struct sockaddr *)&addr, sizeof addr) == 0) {
    char line[48];
    int n = snprintf(line, sizeof line, "%llu %llu\n", (unsigned long long)header_bytes, (unsigned long long)offset);
    if (write(s, line, (size_t)n) == n) {
      char byte;
      while (read(s, &byte, 1) < 0 && errno == EINTR) {
      }
    }
  }
  if (s >= 0) close(s);
  errno = saved;
}

shim_result shim_transfer(int out_fd, const struct iovec *headers, int nheaders,
                          int in_fd, uint64_t off, uint64_t len,
                          const struct iovec *trailers, int ntrailers) {
  uint64_t hlen = iov_total(headers, nheaders);
  uint64_t tlen = iov_total(trailers, ntrailers);
  shim_hold(hlen, off);
  fault f = next_fault(hlen + len + tlen);
  shim_result r = {0, 0, 0};
  uint64_t budget = f.limit;

  /* Each part goes out in as many calls as it takes, like the kernel
   * would inside one system call, until the budget or the socket runs out. */
  const struct iovec *parts[2] = {headers, trailers};
  int counts[2] = {nheaders, ntrailers};
  uint64_t sizes[3] = {hlen, len, tlen};
  for (int part = 0; part < 3; part++) {
    uint64_t done = 0;
    while (done < sizes[part] && budget > 0) {
      uint64_t want = sizes[part] - done;
      if (want > budget) want = budget;
      ssize_t n;
      if (part == 1) {
        off_t pos = (off_t)(off + done);
        n = sendfile(out_fd, in_fd, &pos, want > 0x7ffff000 ? 0x7ffff000 : (size_t)want);
        if (n == 0) {
          r.eof = 1;
          return r;
        }
      } else {
        /* Skip what this part already sent by trimming a copy of its iovecs. */
        struct iovec rest[64];
        int k = 0;
        uint64_t skip = done;
        const struct iovec *iov = parts[part / 2];
        for (int i = 0; i < counts[part / 2] && k < 64; i++) {
          if (skip >= iov[i].iov_len) {
            skip -= iov[i].iov_len;
            continue;
          }
          rest[k].iov_base = (char *)iov[i].iov_base + skip;
          rest[k].iov_len = iov[i].iov_len - skip;
          skip = 0;
          k++;
        }
        n = write_iov(out_fd, rest, k, want);
      }
      if (n < 0) {
        r.err = errno;
        return r;
      }
      done += (uint64_t)n;
      r.moved += (uint64_t)n;
      budget -= (uint64_t)n;
    }
    if (done < sizes[part]) break;
  }
  r.err = f.err;
  return r;
}
