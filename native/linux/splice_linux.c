/* Linux: splice(2) through a pipe, for receiving and relaying. One call
 * moves bytes from the input into the pipe (the kernel takes references
 * to the socket's pages), another from the pipe to the output; the bytes
 * never reach user space. splice needs a pipe on one side of each call,
 * so a socket-to-socket or socket-to-file flow goes through one of its own.
 *
 * A pipe costs two descriptors and, once it has held bytes, its buffer
 * pages: a flow borrows one from a pool while it holds bytes and returns it
 * empty, as HAProxy shares its pipes, so a thousand idle relays hold none
 * and a busy one makes none per burst. The pool is emptied when the last
 * flow ends: a process that has stopped receiving and relaying holds no
 * pipe. Pipes are made with room for PIPE_BYTES (F_SETPIPE_SZ; a kernel
 * that refuses, past fs.pipe-max-size or the user's pipe pages, keeps its
 * default of 64 KiB). */
#define _GNU_SOURCE
#include "../flow.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <unistd.h>

/* Bytes one pipe holds: what one splice call moves at most. */
#define PIPE_BYTES (256 * 1024)

/* Empty pipes kept for the next flow that needs one. */
#define POOL_PIPES 64

/* A pipe: [read end, write end], and what it holds at most. */
struct pipe_pair {
  int fd[2];
  size_t room;
};

static pthread_mutex_t pool_mu = PTHREAD_MUTEX_INITIALIZER;
static struct pipe_pair pool[POOL_PIPES];
static int pooled;
static long flows; /* flows begun and not ended */

struct splice_state {
  struct pipe_pair pipe; /* the borrowed pipe; fd -1 without one */
  int counted;           /* counted among the flows */
};

static int borrow(struct splice_state *s) {
  pthread_mutex_lock(&pool_mu);
  int have = pooled > 0;
  if (have) s->pipe = pool[--pooled];
  pthread_mutex_unlock(&pool_mu);
  if (have) return 0;
  if (pipe2(s->pipe.fd, O_CLOEXEC | O_NONBLOCK) != 0) {
    s->pipe.fd[0] = s->pipe.fd[1] = -1;
    return errno;
  }
  (void)fcntl(s->pipe.fd[1], F_SETPIPE_SZ, PIPE_BYTES);
  int size = fcntl(s->pipe.fd[1], F_GETPIPE_SZ);
  s->pipe.room = size > 0 ? (size_t)size : 4096;
  return 0;
}

/* Gives the pipe back: to the pool when it is empty, else closed (bytes
 * left in it belong to a flow that failed). */
static void give_back(struct splice_state *s, int empty) {
  if (s->pipe.fd[0] < 0) return;
  pthread_mutex_lock(&pool_mu);
  int keep = empty && pooled < POOL_PIPES;
  if (keep) pool[pooled++] = s->pipe;
  pthread_mutex_unlock(&pool_mu);
  if (!keep) {
    close(s->pipe.fd[0]);
    close(s->pipe.fd[1]);
  }
  s->pipe.fd[0] = s->pipe.fd[1] = -1;
}

static int splice_begin(zc_flow *f, void *state) {
  struct splice_state *s = state;
  s->pipe.fd[0] = s->pipe.fd[1] = -1;
  /* ZC_OUT_PIPE is also a character device, which splice(2) writes to only
   * if its driver can (/dev/null can, a terminal cannot): refused here,
   * before a byte is read, the flow falls back to read and write. */
  struct stat st;
  if (f->out_kind == ZC_OUT_PIPE && (fstat(f->out_fd, &st) != 0 || !S_ISFIFO(st.st_mode))) return EINVAL;
  pthread_mutex_lock(&pool_mu);
  flows++;
  pthread_mutex_unlock(&pool_mu);
  s->counted = 1;
  return 0;
}

static void set_result(ssize_t n, uint64_t *moved, zc_move *m) {
  *moved = n > 0 ? (uint64_t)n : 0;
  m->err = n < 0 ? errno : 0;
}

static void splice_fill(zc_flow *f, void *state, uint64_t max, zc_move *m) {
  struct splice_state *s = state;
  if (s->pipe.fd[0] < 0 && (m->err = borrow(s)) != 0) {
    f->call = "pipe2";
    return;
  }
  size_t len = max < s->pipe.room ? (size_t)max : s->pipe.room;
  /* SPLICE_F_NONBLOCK keeps the pipe's side from blocking; the input is
   * non-blocking itself. The pipe is empty, so EAGAIN is the input's. */
  f->call = "splice";
  ssize_t n = splice(f->in_fd, NULL, s->pipe.fd[1], NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  set_result(n, &m->read, m);
  /* An idle flow holds no pipe. */
  if (n <= 0) give_back(s, 1);
}

static void splice_drain(zc_flow *f, void *state, zc_move *m) {
  struct splice_state *s = state;
  /* A regular file is written at out_offset, never at its own position. */
  loff_t off = (loff_t)f->out_offset;
  f->call = "splice";
  ssize_t n = splice(s->pipe.fd[0], NULL, f->out_fd, f->out_kind == ZC_OUT_FILE ? &off : NULL, (size_t)f->held,
                     SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
  set_result(n, &m->written, m);
  if (m->written == f->held) give_back(s, 1);
}

static void splice_end(zc_flow *f, void *state) {
  struct splice_state *s = state;
  give_back(s, f->held == 0);
  if (!s->counted) return;
  s->counted = 0;
  /* The last flow out closes the pool's pipes. */
  struct pipe_pair idle[POOL_PIPES];
  int n = 0;
  pthread_mutex_lock(&pool_mu);
  if (--flows == 0) {
    for (n = 0; n < pooled; n++) idle[n] = pool[n];
    pooled = 0;
  }
  pthread_mutex_unlock(&pool_mu);
  for (int i = 0; i < n; i++) {
    close(idle[i].fd[0]);
    close(idle[i].fd[1]);
  }
}

const zc_mover zc_linux_splice = {
    .name = "splice",
    .zero_copy = 1,
    .inputs = ZC_INPUT_ANY,
    /* splice(2) refuses files opened with O_APPEND (EINVAL). */
    .outputs = ZC_OUTPUT_ANY & ~ZC_OUTPUT(ZC_OUT_APPEND),
    .state_size = sizeof(struct splice_state),
    .begin = splice_begin,
    .fill = splice_fill,
    .drain = splice_drain,
    .end = splice_end,
};
