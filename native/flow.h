/*
 * The other two directions: bytes moved as they arrive, from a socket (or a
 * pipe, or a device) into a file (receiveFile), and both ways between two
 * sockets (relay).
 *
 * One direction is a zc_flow: the bytes Node had already read go first,
 * then what the input delivers, up to a limit or its end of stream. A mover
 * knows one way to move bytes between two descriptors. Its fill takes bytes
 * from the input into what it holds between calls (a pipe for splice(2), a
 * buffer for read(2) and write(2)), or all the way to the output where the
 * kernel relays on its own (SO_SPLICE); its drain hands what it holds to
 * the output. The loop in shared/relay_loop.c decides what each result
 * means (the input's end, a full output, a refusal to fall back from), and
 * for a relay what one direction's end or failure does to the other. No
 * mover waits: a flow that cannot move says what it waits for, its input
 * readable or its output writable, and the caller (the driver thread) waits
 * for that through the waiter (waiter.h).
 */
#ifndef ZEROCOPY_FLOW_H
#define ZEROCOPY_FLOW_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "zerocopy.h"

#ifdef __cplusplus
extern "C" {
#endif

/* A flow's limit when it has none: to the input's end of stream. */
#define ZC_UNLIMITED UINT64_MAX

enum zc_input_kind {
  ZC_IN_SOCKET, /* a stream socket */
  ZC_IN_PIPE,   /* a pipe or FIFO */
  ZC_IN_DEVICE  /* a character device */
};

#define ZC_INPUT(kind) (1u << (kind))
#define ZC_INPUT_ANY (ZC_INPUT(ZC_IN_SOCKET) | ZC_INPUT(ZC_IN_PIPE) | ZC_INPUT(ZC_IN_DEVICE))

struct zc_mover;

typedef struct zc_flow {
  /* Set by the caller. */
  int in_fd;
  int out_fd;
  enum zc_input_kind in_kind;
  enum zc_output_kind out_kind;
  uint64_t out_offset;  /* ZC_OUT_FILE: where the next byte goes */
  uint64_t left;        /* bytes the input may still give, or ZC_UNLIMITED */
  const char *pending;  /* bytes Node had read already: written first */
  size_t npending;
  int pass_end;         /* at the input's end: shutdown(out_fd, SHUT_WR) */
  int may_fall_back;    /* a mover's refusal hands the flow to the next one */

  /* Kept by the loop. */
  uint64_t moved;       /* bytes written to the output, pending ones included */
  uint64_t taken;       /* bytes read from the input (written or held) */
  uint64_t held;        /* bytes read from the input and not yet written */
  int ended;            /* the input's end of stream was seen */
  int finished;         /* nothing more will move: the end or the limit reached, passed on */
  unsigned wait_in;     /* ZC_WAIT_READ when it waits for the input */
  unsigned wait_out;    /* ZC_WAIT_WRITE when it waits for the output */
  const char *call;     /* the system call made last, for error reports */

  /* Managed by zc_flow_begin, zc_flow_run and zc_flow_end. */
  const struct zc_mover *mover;
  void *state;
  union {
    max_align_t align;
    unsigned char bytes[64];
  } state_room;
  uint64_t mover_moved; /* bytes the current mover has read */
} zc_flow;

/* One call of a mover: what it moved, and how it ended. */
typedef struct zc_move {
  uint64_t read;    /* bytes taken from the input */
  uint64_t written; /* bytes handed to the output */
  int err;          /* the errno it ended with, 0 for none */
  /* With EAGAIN, what to wait for, when the mover knows better than the
   * loop (which waits for the input after a fill, for the output after a
   * drain): ZC_WAIT_READ, ZC_WAIT_WRITE or both. */
  unsigned wait;
} zc_move;

typedef struct zc_mover {
  const char *name;
  /* Whether the bytes skip user space. */
  int zero_copy;
  /* What it can read from and write to: masks of ZC_INPUT and ZC_OUTPUT
   * bits. */
  unsigned inputs;
  unsigned outputs;
  /* Bytes of private state, zeroed, per flow. */
  size_t state_size;
  /* Called once before the first call; may be NULL. 0 or an errno. */
  int (*begin)(zc_flow *f, void *state);
  /* Takes up to `max` bytes from the input. 0 read without an error is the
   * input's end of stream. */
  void (*fill)(zc_flow *f, void *state, uint64_t max, zc_move *m);
  /* Writes some of the f->held bytes to the output. */
  void (*drain)(zc_flow *f, void *state, zc_move *m);
  /* Called when the flow is cut short (its limit lowered to what it has
   * read: the other direction of a relay ended it); may be NULL. A mover
   * whose kernel is moving bytes on its own stops it here and counts what
   * it moved. */
  void (*stop)(zc_flow *f, void *state, zc_move *m);
  /* Called once at the end, whatever the outcome; may be NULL. */
  void (*end)(zc_flow *f, void *state);
  /* For a mover whose kernel moves bytes on its own: the bytes it has
   * moved in its current (or last) run from `in_fd`, asked from any
   * thread, for an idle timer; NULL for others. */
  uint64_t (*kernel_moved)(int in_fd);
} zc_mover;

/* The movers this build offers, best first, NULL-terminated
 * (shared/movers.c). */
extern const zc_mover *const zc_movers[];

const zc_mover *zc_find_mover(const char *name);

/* The best mover for this input and output. */
const zc_mover *zc_pick_mover(enum zc_input_kind in, enum zc_output_kind out);

/* Classifies an input descriptor: a stream socket, a pipe or FIFO, a
 * character device. Returns 0, EISDIR or EINVAL (a regular file:
 * sendFile's input, not ours), or an errno. */
int zc_classify_input(int fd, enum zc_input_kind *kind);

/* zc_classify_output for a flow's output: a socket need not be connected
 * any more (its peer may have reset before the flow began), for its first
 * write to say what happened. */
int zc_classify_flow_output(int fd, enum zc_output_kind *kind);

/* Writes len bytes of buf to the flow's output as that kind of output
 * takes them (send(2) to a socket, pwrite(2) at out_offset to a file,
 * write(2) otherwise), and fills in m->written and m->err. */
void zc_flow_write(zc_flow *f, const void *buf, size_t len, zc_move *m);

/* Makes m carry the flow: allocates its state and calls its begin. With
 * f->may_fall_back, a mover whose begin refuses the flow (a refusal errno)
 * hands it to the next mover in zc_movers that fits. Returns 0 or an
 * errno; call zc_flow_end afterwards either way. */
int zc_flow_begin(zc_flow *f, const zc_mover *m);

/* Calls the mover's end and frees its state. */
void zc_flow_end(zc_flow *f);

/* Moves bytes until the flow is finished (returns 0), waits (EAGAIN:
 * wait_in and wait_out say for what), has moved about `budget` bytes
 * (EINPROGRESS: wait_in and wait_out say what comes next, which is ready
 * now), or fails (its errno; f->call names the call). */
int zc_flow_run(zc_flow *f, uint64_t budget);

/* Cuts the flow short: it reads nothing more, writes what it holds, and
 * finishes (passing the end on, with pass_end). */
void zc_flow_stop(zc_flow *f);

/* One flow (a receive) or two (a relay: flows[0] from a to b, flows[1]
 * from b to a). */
typedef struct zc_relay {
  zc_flow flows[2];
  int nflows;
  /* Set by the caller: the source of flows[i] ends both directions at its
   * end of stream (a Node socket without allowHalfOpen). */
  int ends_both[2];
  /* Set by zc_relay_run on failure: the flow that failed. */
  int failed;
  /* Set by the caller before a run: the descriptors reported ready, or
   * nready -1 when not known (run every flow). A flow waiting for none of
   * them is not run: its calls would only say EAGAIN again. */
  int ready_fds[4];
  int nready;
} zc_relay;

/* Runs the flows until all are finished (0), all that are left wait
 * (EAGAIN), about `budget` bytes have moved (EINPROGRESS), or one fails
 * (its errno; r->failed says which, and both directions are over). */
int zc_relay_run(zc_relay *r, uint64_t budget);

/* Bytes moved by every flow. */
uint64_t zc_relay_moved(const zc_relay *r);

/* Ends every flow (zc_flow_end), cut short first when it has not finished,
 * so that what a kernel moved on its own (SO_SPLICE) is counted. */
void zc_relay_end(zc_relay *r);

#ifdef __cplusplus
}
#endif

#endif
