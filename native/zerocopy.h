/*
 * The one interface every OS backend implements.
 *
 * A transfer is: header bytes, then [offset, offset + count) of a file, then
 * trailer bytes, written to one output descriptor. A backend knows one
 * system call that moves file bytes, perhaps with headers and trailers
 * around them; its step makes that call once and reports what it did. The
 * loop in shared/send_loop.c decides what each call carries, writes the
 * buffers a backend's call cannot carry, does the bookkeeping and decides
 * what a result means (end of file, a refusal to fall back from, an error).
 * No backend waits: when the output is not writable the loop returns EAGAIN
 * and the caller (the Node glue) waits for writability somewhere that is
 * not the event loop and not a threadpool thread.
 */
#ifndef ZEROCOPY_H
#define ZEROCOPY_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returned when the file ended before the requested range did. Chosen
 * outside the errno range of every supported system. */
#define ZC_ETRUNCATED 100000

/* Largest count handed to one call: Linux moves at most this much per
 * sendfile/write call anyway, and some 64-bit kernels fail with EINVAL on
 * counts of 2 GiB and more. */
#define ZC_MAX_CHUNK 0x7ffff000u

/* Buffers one writev of headers and trailers takes; with more, the loop
 * simply calls again. */
#define ZC_IOV_BATCH 16

enum zc_output_kind {
  ZC_OUT_TCP,    /* TCP socket: headers and trailers may be corked */
  ZC_OUT_SOCKET, /* any other stream socket */
  ZC_OUT_PIPE,   /* pipe, FIFO or character device */
  ZC_OUT_FILE,   /* regular file: written at its current position */
  ZC_OUT_APPEND  /* regular file opened with O_APPEND */
};

#define ZC_OUTPUT(kind) (1u << (kind))
#define ZC_OUTPUT_SOCKETS (ZC_OUTPUT(ZC_OUT_TCP) | ZC_OUTPUT(ZC_OUT_SOCKET))
#define ZC_OUTPUT_ANY \
  (ZC_OUTPUT_SOCKETS | ZC_OUTPUT(ZC_OUT_PIPE) | ZC_OUTPUT(ZC_OUT_FILE) | ZC_OUTPUT(ZC_OUT_APPEND))

struct zc_backend;

typedef struct zc_transfer {
  int out_fd;
  int in_fd;
  enum zc_output_kind out_kind;

  /* What is left to send. The loop advances these in place. */
  struct iovec *headers;
  int nheaders;
  uint64_t offset;
  uint64_t remaining;
  struct iovec *trailers;
  int ntrailers;

  uint64_t sent;    /* header + file + trailer bytes sent so far */
  const char *call; /* the system call made last, for error reports */

  /* Set by the caller: whether a backend whose call refuses this transfer
   * may hand it to the next one in zc_backends (the caller let us pick). */
  int may_fall_back;
  /* Set by the caller: whether the mmap backend takes a read lease on the
   * input, where the kernel grants one. */
  int lease;

  /* Managed by zc_begin, zc_run and zc_end. */
  const struct zc_backend *backend; /* the backend carrying the transfer */
  void *state;                      /* its private state: state_size bytes */
  /* Where a state that fits lives, so that a small transfer sent at once
   * costs no allocation; a larger one is allocated. */
  union {
    max_align_t align;
    unsigned char bytes[64];
  } state_room;
  uint64_t backend_moved;           /* bytes its own call has moved */
} zc_transfer;

/* One call of a backend's step: what the loop asks the call to carry, and
 * what the call did. */
typedef struct zc_call {
  /* Set by the loop. Lists are NULL when empty. A step may leave the
   * trailers out (set them to NULL and 0), never add to what is here. */
  struct iovec *headers; /* every header left: at most max_headers */
  int nheaders;
  uint64_t offset;   /* the next chunk of the range: never empty */
  uint64_t file_len;
  struct iovec *trailers; /* every trailer, when the chunk ends the range
                             and there are at most max_trailers; else none */
  int ntrailers;

  /* Set by the step. */
  uint64_t moved; /* bytes the call moved, headers, file and trailers
                     together, counted also when it failed */
  int err;        /* the errno it ended with, 0 for none */
} zc_call;

typedef struct zc_backend {
  const char *name;
  /* Whether the bytes skip user space on this backend. */
  int zero_copy;
  /* The outputs it can write to: a mask of ZC_OUTPUT(kind) bits. */
  unsigned outputs;
  /* How headers and trailers travel: "vector" (in the call itself),
   * "cork" (separate calls held together by TCP_CORK) or "copy" (separate
   * writes). */
  const char *headers_trailers;
  /* How many header and trailer buffers its call carries beside the file
   * bytes: 0 for a call that carries file bytes only. With more due, or
   * with no file bytes due, the loop writes the buffers itself. */
  int max_headers;
  int max_trailers;
  /* Bytes of private state zc_begin allocates, zeroed, for each transfer
   * and hands to begin, step and end; zc_end frees it. */
  size_t state_size;
  /* Called once before the first step; may be NULL. Returns 0 or an errno. */
  int (*begin)(zc_transfer *t, void *state);
  /* Makes the backend's call once for *c and fills in c->moved and c->err.
   * Quirks of the system's call are smoothed out here; the rules (nothing
   * moved means end of file, and so on) are the loop's. */
  void (*step)(zc_transfer *t, void *state, zc_call *c);
  /* Sends headers that are due ahead of file bytes, when the call cannot
   * carry them (more than max_headers), in a way that keeps them with the
   * file; c holds one batch of them. NULL: the loop writes them by writev. */
  void (*send_headers)(zc_transfer *t, void *state, zc_call *c);
  /* Called once after the last step, whatever the outcome; may be NULL. */
  void (*end)(zc_transfer *t, void *state);
} zc_backend;

/* The backends this build offers, best first, NULL-terminated
 * (shared/backends.c). */
extern const zc_backend *const zc_backends[];

const zc_backend *zc_find_backend(const char *name);

/* The best backend that can write to this kind of output. */
const zc_backend *zc_pick_backend(enum zc_output_kind kind);

/* Classifies an output descriptor. Returns 0 or an errno. */
int zc_classify_output(int fd, enum zc_output_kind *kind);

uint64_t zc_iov_bytes(const struct iovec *iov, int n);

/* Records the result of a call that returns a byte count, or -1 with
 * errno set. */
void zc_set_result(zc_call *c, ssize_t n);

/* Writes c's headers and trailers with one writev. */
void zc_write_buffers(zc_transfer *t, zc_call *c);

/* Whether the input now ends before [off, off + len) does. */
int zc_file_ends_before(const zc_transfer *t, uint64_t off, uint64_t len);

/* A backend's (or mover's) zeroed private state of `size` bytes: in
 * `room` when it fits, so that a small transfer sent at once costs no
 * allocation, else allocated; NULL for a size of 0. Returns 0, or ENOMEM
 * with *state NULL. zc_state_free frees one that was allocated. */
int zc_state_new(void **state, void *room, size_t room_size, size_t size);
void zc_state_free(void *state, const void *room);

/* Makes b carry the transfer: allocates its state and calls its begin.
 * Returns 0 or an errno; call zc_end afterwards either way. */
int zc_begin(zc_transfer *t, const zc_backend *b);

/* Runs calls until the transfer is done (returns 0), the output is not
 * writable (EAGAIN), the file is shorter than promised (ZC_ETRUNCATED), an
 * error occurs (its errno), or about `budget` bytes have moved (returns
 * EINPROGRESS, so the caller can report progress and check for abort).
 * With t->may_fall_back, a backend whose call refuses the transfer before
 * it has moved anything hands it to the next backend in zc_backends that
 * can write to the output; t->backend then names that one. */
int zc_run(zc_transfer *t, uint64_t budget);

/* Calls the backend's end and frees its state. */
void zc_end(zc_transfer *t);

static inline int zc_done(const zc_transfer *t) {
  return t->nheaders == 0 && t->remaining == 0 && t->ntrailers == 0;
}

#ifdef __cplusplus
}
#endif

#endif
