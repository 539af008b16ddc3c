/* FreeBSD (15 and later) and OpenBSD: SO_SPLICE, setsockopt(2). The kernel
 * moves a source socket's bytes into a drain socket on its own, with no
 * thread and no call per chunk, until it dissolves the splice: at the
 * source's end of stream, at an error of either socket (EPIPE on the
 * source when the drain cannot send), at sp_max bytes, after sp_idle
 * without a byte (ETIMEDOUT), or when asked (sp_fd -1). Dissolved, the
 * source is readable again (sosplice(9): "a read event is signaled to
 * user-land after dissolving"; FreeBSD's tests/sys/kern/socket_splice.c:
 * no kevent while spliced), SO_ERROR says why, and getsockopt(SO_SPLICE)
 * the bytes moved since the splice began (sosplice(9), the same tests).
 *
 * As a mover: fill splices and has the flow wait for the source to be
 * readable; called again, it dissolves what is left of the splice
 * (ENOTCONN: the kernel did), counts what moved, and tells the loop why it
 * ended, or splices again when it had not.
 * What moved went straight to the drain, so a fill reads and writes the
 * same bytes and nothing is held. The idle timeout is relay()'s own,
 * across both directions, so sp_idle stays 0. */
#if !defined(__FreeBSD__) && !defined(__OpenBSD__) && !defined(ZEROCOPY_SHIM)
#error "sosplice.c is the FreeBSD/OpenBSD mover: build it there, or against test/shims/sosplice.h (ZEROCOPY_SHIM)"
#endif

#include "../flow.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/types.h>

#include "../waiter.h"

struct sosplice_state {
  int spliced; /* the kernel is moving bytes */
  int ended;   /* a dissolution found the source's end of stream */
};

/* SO_SPLICE as sosplice(9) has it: the drain, at most `max` bytes (0: no
 * limit), no idle timeout. fd -1 dissolves. */
static int set_splice(int source, int drain, uint64_t max) {
  struct splice sp;
  memset(&sp, 0, sizeof sp);
  sp.sp_fd = drain;
  sp.sp_max = (off_t)max;
  return setsockopt(source, SOL_SOCKET, SO_SPLICE, &sp, sizeof sp) == 0 ? 0 : errno;
}

/* Bytes the current (or last) splice of `source` has moved; 0 for a
 * socket never spliced. Also what the flow's idle timer asks, from another
 * thread: nothing else sees those bytes move. */
static uint64_t spliced_bytes(int source) {
  off_t n = 0;
  socklen_t len = sizeof n;
  return getsockopt(source, SOL_SOCKET, SO_SPLICE, &n, &len) == 0 && n > 0 ? (uint64_t)n : 0;
}

/* Why the kernel dissolved a splice: its error on the source, read once. */
static int dissolved_by(int source) {
  int err = 0;
  socklen_t len = sizeof err;
  return getsockopt(source, SOL_SOCKET, SO_ERROR, &err, &len) == 0 ? err : errno;
}

static void sosplice_fill(zc_flow *f, void *state, uint64_t max, zc_move *m) {
  struct sosplice_state *s = state;
  /* Nothing read and no error: the loop's end of stream. */
  if (s->ended) return;
  if (!s->spliced) {
    f->call = "setsockopt";
    int err = set_splice(f->in_fd, f->out_fd, f->left == ZC_UNLIMITED ? 0 : max);
    /* A kernel without SO_SPLICE (FreeBSD before 15: ENOPROTOOPT), a pair
     * it will not splice (not TCP: EPROTONOSUPPORT), or a source no longer
     * connected that still holds bytes (after a short splice: ENOTCONN):
     * a refusal, and the loop carries on with the next mover. */
    if (err == ENOPROTOOPT || err == EPROTONOSUPPORT || err == EOPNOTSUPP || err == ENOTCONN) err = EOPNOTSUPP;
    if (err != 0) {
      m->err = err;
      return;
    }
    s->spliced = 1;
    m->err = EAGAIN;
    m->wait = ZC_WAIT_READ;
    return;
  }
  /* Called while the kernel still moves bytes (a relay runs both its flows
   * when either is reported): a spliced source is not readable, and there
   * is nothing to do. */
  struct pollfd readable = {.fd = f->in_fd, .events = POLLIN};
  if (poll(&readable, 1, 0) == 0) {
    m->err = EAGAIN;
    m->wait = ZC_WAIT_READ;
    return;
  }
  /* Readable: dissolved, which dissolving again says (ENOTCONN). Spliced
   * still (a read event from before the splice): it is dissolved and
   * counted, and spliced again at once; bytes that arrive meanwhile wait
   * in the source, and the new splice moves them first. */
  f->call = "setsockopt";
  int ours = set_splice(f->in_fd, -1, 0) == 0;
  s->spliced = 0;
  m->read = m->written = spliced_bytes(f->in_fd);
  if (ours) {
    uint64_t left = f->left == ZC_UNLIMITED ? 0 : f->left - m->read;
    if (f->left != ZC_UNLIMITED && left == 0) return;
    m->err = set_splice(f->in_fd, f->out_fd, left);
    if (m->err == 0) {
      s->spliced = 1;
      m->err = EAGAIN;
      m->wait = ZC_WAIT_READ;
    } else if (m->err == ENOTCONN) {
      /* Both ends of the source said goodbye while bytes wait in it: the
       * kernel splices connected sockets only, the next mover reads on. */
      m->err = EOPNOTSUPP;
    }
    return;
  }
  f->call = "splice";
  int err = dissolved_by(f->in_fd);
  /* EFBIG: OpenBSD's word for sp_max reached, which the limit says too. */
  if (err != 0 && err != EFBIG) {
    m->err = err;
    return;
  }
  if (f->left != ZC_UNLIMITED && m->read >= f->left) return;
  /* No error and the limit not reached: the end of stream, or a short
   * splice (OpenBSD may move less than asked, and says to splice again:
   * the next call does, or, when the source is no longer connected with
   * bytes still in it, hands them to the next mover). */
  char byte;
  ssize_t n = recv(f->in_fd, &byte, 1, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0) s->ended = 1;
  else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) m->err = errno;
}

/* The flow is cut short (the other direction of a relay ended it): the
 * splice is dissolved, and what it moved counted. */
static void sosplice_stop(zc_flow *f, void *state, zc_move *m) {
  struct sosplice_state *s = state;
  if (!s->spliced) return;
  (void)set_splice(f->in_fd, -1, 0);
  s->spliced = 0;
  m->read = m->written = spliced_bytes(f->in_fd);
}

static void sosplice_end(zc_flow *f, void *state) {
  struct sosplice_state *s = state;
  if (s->spliced) (void)set_splice(f->in_fd, -1, 0);
  s->spliced = 0;
}



const zc_mover zc_bsd_sosplice = {
    .name = "sosplice",
    .zero_copy = 1,
    /* TCP to TCP only (EPROTONOSUPPORT otherwise). */
    .inputs = ZC_INPUT(ZC_IN_SOCKET),
    .outputs = ZC_OUTPUT(ZC_OUT_TCP),
    .state_size = sizeof(struct sosplice_state),
    .fill = sosplice_fill,
    .stop = sosplice_stop,
    .end = sosplice_end,
    .kernel_moved = spliced_bytes,
};
