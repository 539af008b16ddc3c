/* The OS-neutral part of receiving and relaying: decide what each call of a
 * flow is (Node's bytes first, then what the mover holds, then more from
 * the input), account for what moved, and turn the results into one of a
 * few outcomes; and for a relay, what one direction's end or failure does
 * to the other. Every rule about what a result means lives here. */
#include "../flow.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../waiter.h"

/* macOS has no MSG_NOSIGNAL; Node ignores SIGPIPE in any case. */
#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

static int is_socket(enum zc_output_kind kind) { return kind == ZC_OUT_TCP || kind == ZC_OUT_SOCKET; }

void zc_flow_write(zc_flow *f, const void *buf, size_t len, zc_move *m) {
  ssize_t n;
  if (is_socket(f->out_kind)) {
    f->call = "send";
    n = send(f->out_fd, buf, len, MSG_NOSIGNAL);
  } else if (f->out_kind == ZC_OUT_FILE) {
    f->call = "pwrite";
    n = pwrite(f->out_fd, buf, len, (off_t)f->out_offset);
  } else {
    f->call = "write";
    n = write(f->out_fd, buf, len);
  }
  m->written = n > 0 ? (uint64_t)n : 0;
  m->err = n < 0 ? errno : 0;
  /* Nothing written and no error would make the loop spin: a device that
   * takes no bytes is failing. */
  if (n == 0 && len > 0) m->err = EIO;
}

/* The errors with which a call says it cannot do this at all, as for
 * sendFile's backends (send_loop.c): splice(2) says EINVAL for a descriptor
 * that does not support it. */
static int is_refusal(int err) {
  return err == ENOSYS || err == EINVAL || err == EOPNOTSUPP || err == ENOTSUP;
}

static int fits(const zc_mover *m, const zc_flow *f) {
  return (m->inputs & ZC_INPUT(f->in_kind)) && (m->outputs & ZC_OUTPUT(f->out_kind));
}

/* The mover after `m` in zc_movers that can carry the flow, or NULL. */
static const zc_mover *next_mover(const zc_flow *f, const zc_mover *m) {
  const zc_mover *const *at = zc_movers;
  while (*at && *at != m) at++;
  if (*at == NULL) return NULL;
  for (at++; *at; at++)
    if (fits(*at, f)) return *at;
  return NULL;
}

static int begin_one(zc_flow *f, const zc_mover *m) {
  f->mover = m;
  f->mover_moved = 0;
  f->call = "malloc";
  int err = zc_state_new(&f->state, &f->state_room, sizeof f->state_room, m->state_size);
  if (err != 0) return err;
  return m->begin ? m->begin(f, f->state) : 0;
}

int zc_flow_begin(zc_flow *f, const zc_mover *m) {
  int err = begin_one(f, m);
  /* A mover that sees at once that it cannot carry this flow (a device
   * splice(2) cannot write to) hands it on before anything moved. */
  while (err != 0 && is_refusal(err) && f->may_fall_back && (m = next_mover(f, f->mover)) != NULL) {
    zc_flow_end(f);
    err = begin_one(f, m);
  }
  return err;
}

void zc_flow_end(zc_flow *f) {
  const zc_mover *m = f->mover;
  if (m && m->end && (f->state || m->state_size == 0)) m->end(f, f->state);
  zc_state_free(f->state, &f->state_room);
  f->state = NULL;
}

/* Hands the flow to the next mover that can carry it, from where it
 * stands (nothing held). Returns 0, or `refusal` when there is none. */
static int fall_back(zc_flow *f, int refusal) {
  const zc_mover *m = next_mover(f, f->mover);
  if (m == NULL) return refusal;
  zc_flow_end(f);
  return zc_flow_begin(f, m);
}

static void account(zc_flow *f, const zc_move *m) {
  f->taken += m->read;
  f->held += m->read;
  f->held -= m->written;
  f->moved += m->written;
  f->out_offset += m->written;
  if (f->left != ZC_UNLIMITED) f->left -= m->read;
}

/* What a flow does next, which it would wait for. */
static void next_wait(zc_flow *f) {
  int writing = f->npending > 0 || f->held > 0;
  f->wait_in = writing ? 0 : ZC_WAIT_READ;
  f->wait_out = writing ? ZC_WAIT_WRITE : 0;
}

/* The input has ended, or the limit is reached, and everything read is
 * written: the end is passed on, and nothing more moves. */
static int finish(zc_flow *f) {
  f->finished = 1;
  if (!f->pass_end) return 0;
  f->call = "shutdown";
  /* ENOTCONN: the peer is gone already, and with it the need to tell it. */
  if (shutdown(f->out_fd, SHUT_WR) != 0 && errno != ENOTCONN) return errno;
  return 0;
}

int zc_flow_run(zc_flow *f, uint64_t budget) {
  uint64_t moved_here = 0;
  f->wait_in = f->wait_out = 0;
  while (!f->finished) {
    if (moved_here >= budget) {
      next_wait(f);
      return EINPROGRESS;
    }
    zc_move m = {0};
    int filling = 0;
    if (f->npending > 0) {
      /* Node's bytes first: they came before anything the input holds. */
      zc_flow_write(f, f->pending, f->npending, &m);
      f->pending += m.written;
      f->npending -= (size_t)m.written;
      f->moved += m.written;
      f->out_offset += m.written;
      m.written = 0;
    } else if (f->held > 0) {
      f->mover->drain(f, f->state, &m);
    } else if (f->ended || f->left == 0) {
      int err = finish(f);
      if (err != 0) return err;
      continue;
    } else {
      filling = 1;
      uint64_t max = f->left < ZC_MAX_CHUNK ? f->left : ZC_MAX_CHUNK;
      f->mover->fill(f, f->state, max, &m);
      f->mover_moved += m.read;
      /* Nothing read and no error: the input's end of stream. */
      if (m.read == 0 && m.err == 0) {
        f->ended = 1;
        continue;
      }
      /* Refused with nothing held (a mover that holds nothing, like
       * SO_SPLICE's, may refuse after moving bytes: a socket it can no
       * longer splice): the next mover carries on from where the flow
       * stands. */
      if (is_refusal(m.err) && f->may_fall_back && f->held + m.read == m.written) {
        account(f, &m);
        moved_here += m.written;
        int err = fall_back(f, m.err);
        if (err != 0) return err;
        continue;
      }
    }
    account(f, &m);
    moved_here += m.written;
    if (m.err == EINTR) continue;
    if (m.err == EAGAIN || m.err == EWOULDBLOCK) {
      unsigned wait = m.wait ? m.wait : filling ? ZC_WAIT_READ : ZC_WAIT_WRITE;
      f->wait_in = wait & ZC_WAIT_READ;
      f->wait_out = wait & ZC_WAIT_WRITE;
      return EAGAIN;
    }
    if (m.err != 0) return m.err;
  }
  return 0;
}

void zc_flow_stop(zc_flow *f) {
  if (f->finished) return;
  if (f->mover && f->mover->stop) {
    zc_move m = {0};
    f->mover->stop(f, f->state, &m);
    account(f, &m);
  }
  f->left = 0;
  /* It runs next whatever is reported: it has an end to pass on. */
  f->wait_in = f->wait_out = 0;
}

/* Whether the flow waits for nothing the last report said is ready. */
static int still_waiting(const zc_relay *r, const zc_flow *f) {
  if (r->nready < 0 || (f->wait_in == 0 && f->wait_out == 0)) return 0;
  for (int i = 0; i < r->nready; i++) {
    if (f->wait_in && r->ready_fds[i] == f->in_fd) return 0;
    if (f->wait_out && r->ready_fds[i] == f->out_fd) return 0;
  }
  return 1;
}

int zc_relay_run(zc_relay *r, uint64_t budget) {
  uint64_t share = r->nflows > 1 ? budget / 2 : budget;
  int over, again;
  do {
    over = again = 0;
    for (int i = 0; i < r->nflows; i++) {
      zc_flow *f = &r->flows[i];
      if (f->finished || (!again && still_waiting(r, f))) continue;
      int err = zc_flow_run(f, share);
      if (err == EINPROGRESS) over = 1;
      if (err == EAGAIN || err == EINPROGRESS) continue;
      if (err != 0) {
        r->failed = i;
        return err;
      }
      /* A source without allowHalfOpen: Node would end that socket at its
       * end of stream, so the direction toward it ends too, once it has
       * written what it holds. At most once: a stopped flow reads no more
       * (its limit is 0). The first flow, stopped by the second, runs
       * again in another pass. */
      zc_flow *other = &r->flows[1 - i];
      if (r->nflows == 2 && f->ended && r->ends_both[i] && !other->finished && other->left != 0) {
        zc_flow_stop(other);
        again = i == 1;
      }
    }
  } while (again);
  int finished = 1;
  for (int i = 0; i < r->nflows; i++) finished &= r->flows[i].finished;
  if (finished) return 0;
  return over ? EINPROGRESS : EAGAIN;
}

uint64_t zc_relay_moved(const zc_relay *r) {
  uint64_t total = 0;
  for (int i = 0; i < r->nflows; i++) total += r->flows[i].moved;
  return total;
}

void zc_relay_end(zc_relay *r) {
  for (int i = 0; i < r->nflows; i++) {
    zc_flow *f = &r->flows[i];
    if (!f->finished && f->mover) zc_flow_stop(f);
    zc_flow_end(f);
  }
}
