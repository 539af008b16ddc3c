// The kernel's limit for the relay benchmark: a TCP relay of splice(2)
// calls through a pipe per direction, in one thread waiting with epoll(7),
// with nothing else in the process: what relay() does on Linux (one driver
// thread), without Node, and what HAProxy does with one thread.
//
//   splice_relay TARGET_PORT [PIPE_BYTES]
//
// Listens on 127.0.0.1 (a free port, printed as "port N" on stdout); each
// accepted connection gets a connection to 127.0.0.1:TARGET_PORT. Each
// direction moves bytes socket -> pipe -> socket with non-blocking splice
// calls of as much as its pipe holds (PIPE_BYTES, F_SETPIPE_SZ; default
// 262144, as zerocopy's Linux mover), until EAGAIN, and passes the end of
// stream on with shutdown(SHUT_WR). Edge-triggered: a connection's two
// descriptors are registered once, for reading and writing. It is closed
// once both directions have ended, or either fails.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>

static int pipe_bytes = 262144;

struct direction {
  int from, to;
  int pipe[2];
  size_t held;
  int ended; /* the input's end was seen */
  int done;  /* ended and passed on, or failed */
};

struct connection {
  int fd[2];
  struct direction d[2];
  int dead; /* closed; freed once the batch of events that may name it is done */
};

/* Moves what it can; returns -1 when the connection has failed. */
static int pump(struct direction *d) {
  while (!d->done) {
    if (d->held > 0) {
      ssize_t n = splice(d->pipe[0], NULL, d->to, NULL, d->held, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
      if (n > 0) {
        d->held -= (size_t)n;
        continue;
      }
      if (n < 0 && errno == EINTR) continue;
      if (n < 0 && errno == EAGAIN) return 0;
      return -1;
    }
    if (d->ended) {
      shutdown(d->to, SHUT_WR);
      d->done = 1;
      return 0;
    }
    ssize_t n = splice(d->from, NULL, d->pipe[1], NULL, (size_t)pipe_bytes, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    if (n > 0) {
      d->held = (size_t)n;
      continue;
    }
    if (n == 0) {
      d->ended = 1;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) return 0;
    return -1;
  }
  return 0;
}

static struct connection *dead[128];
static int ndead;

static void finish(struct connection *c) {
  if (c->dead) return;
  c->dead = 1;
  for (int i = 0; i < 2; i++) {
    close(c->fd[i]);
    close(c->d[i].pipe[0]);
    close(c->d[i].pipe[1]);
  }
  dead[ndead++] = c;
}

static void nonblocking(int fd) { fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK); }

int main(int argc, char **argv) {
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  signal(SIGPIPE, SIG_IGN);
  if (argc < 2) {
    fprintf(stderr, "usage: splice_relay TARGET_PORT [PIPE_BYTES]\n");
    return 2;
  }
  int target_port = atoi(argv[1]);
  if (argc > 2) pipe_bytes = atoi(argv[2]);
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in addr = {.sin_family = AF_INET};
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(ls, (struct sockaddr *)&addr, sizeof addr) || listen(ls, 1024)) {
    perror("splice_relay: bind/listen");
    return 1;
  }
  socklen_t len = sizeof addr;
  getsockname(ls, (struct sockaddr *)&addr, &len);
  printf("port %d\n", ntohs(addr.sin_port));
  fflush(stdout);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  struct epoll_event lev = {.events = EPOLLIN, .data.ptr = NULL};
  epoll_ctl(ep, EPOLL_CTL_ADD, ls, &lev);
  struct epoll_event events[64];
  for (;;) {
    int n = epoll_wait(ep, events, 64, -1);
    for (int i = 0; i < n; i++) {
      struct connection *c = events[i].data.ptr;
      if (c == NULL) {
        int s;
        while ((s = accept4(ls, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
          int t = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
          struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(target_port)};
          to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
          if (t < 0 || connect(t, (struct sockaddr *)&to, sizeof to) != 0) {
            close(s);
            if (t >= 0) close(t);
            continue;
          }
          c = calloc(1, sizeof *c);
          c->fd[0] = s;
          c->fd[1] = t;
          for (int k = 0; k < 2; k++) {
            nonblocking(c->fd[k]);
            c->d[k].from = c->fd[k];
            c->d[k].to = c->fd[1 - k];
            if (pipe2(c->d[k].pipe, O_CLOEXEC | O_NONBLOCK) != 0) {
              perror("splice_relay: pipe");
              return 1;
            }
            fcntl(c->d[k].pipe[1], F_SETPIPE_SZ, pipe_bytes);
          }
          for (int k = 0; k < 2; k++) {
            struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = c};
            epoll_ctl(ep, EPOLL_CTL_ADD, c->fd[k], &ev);
          }
          if (pump(&c->d[0]) || pump(&c->d[1])) finish(c);
          if (ndead > 64) break;
        }
        continue;
      }
      if (c->dead) continue;
      /* Both directions: a descriptor's event can concern either one. */
      if (pump(&c->d[0]) || pump(&c->d[1]) || (c->d[0].done && c->d[1].done)) finish(c);
    }
    while (ndead > 0) free(dead[--ndead]);
  }
}
