/*
 * The one interface every OS backend implements.
 *
 * A transfer is: header bytes, then [offset, offset + count) of a file, then
 * trailer bytes, written to one output descriptor. A backend knows how to make
 * one system call's worth of progress on it; the loop in shared/send_loop.c
 * drives that step, does the bookkeeping and decides what a result means. No
 * backend waits: when the output is not writable the loop returns EAGAIN and
 * the caller (the Node glue) waits for writability somewhere that is not the
 * event loop and not a threadpool thread.
 */
#ifndef ZEROCOPY_H
#define ZEROCOPY_H

#include <stddef.h>
#include <stdint.h>
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

  uint64_t sent; /* header + file + trailer bytes sent so far */
  uint64_t chunk_limit; /* set by the loop: most file bytes for one step */
  const char *call;     /* set by each step: the system call it made */

  /* Backend-private state, zeroed before begin(). */
  int cork_restore;     /* Linux: 1 when we corked and must uncork */
  int file_call_failed; /* Linux: copy_file_range refused, use sendfile */
  void *scratch;        /* readwrite: its buffer */
  size_t scratch_len;
  void *map;            /* mmap: the mapped window of the input */
  uint64_t map_offset;  /* mmap: file offset of the window */
  size_t map_len;
  int lease;            /* mmap: 1 while we hold a read lease */
} zc_transfer;

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
  /* Called once before the first step; may be NULL. Returns 0 or an errno. */
  int (*begin)(zc_transfer *t);
  /* One system call's worth of progress. Stores the bytes moved (counted
   * from the start of what is left: headers, then file, then trailers) in
   * *moved and returns 0 or an errno. *moved may be non-zero with an errno:
   * some systems report EAGAIN or EINTR after moving bytes. */
  int (*step)(zc_transfer *t, uint64_t *moved);
  /* Called once after the last step, whatever the outcome; may be NULL. */
  void (*end)(zc_transfer *t);
} zc_backend;

/* The backends this build offers, best first, NULL-terminated. Each OS
 * folder defines it. */
extern const zc_backend *const zc_backends[];

const zc_backend *zc_find_backend(const char *name);

/* The best backend that can write to this kind of output. */
const zc_backend *zc_pick_backend(enum zc_output_kind kind);

/* Whether the mmap backend takes read leases on this system. */
int zc_leases_supported(void);

/* Classifies an output descriptor. Returns 0 or an errno. */
int zc_classify_output(int fd, enum zc_output_kind *kind);

/* Buffers one call takes; with more, the loop simply calls again. */
#define ZC_IOV_BATCH 16

uint64_t zc_iov_bytes(const struct iovec *iov, int n);

/* The step of a backend whose system call carries file bytes only, when
 * no file bytes are due: one writev of the headers, joined by the trailers
 * when no file bytes lie between them, or of the trailers. */
int zc_write_buffers(zc_transfer *t, uint64_t *moved);

/* Whether the input now ends before [off, off + len) does. */
int zc_file_ends_before(const zc_transfer *t, uint64_t off, uint64_t len);

/* Runs steps until the transfer is done (returns 0), the output is not
 * writable (EAGAIN), the file is shorter than promised (ZC_ETRUNCATED), an
 * error occurs (its errno), or about `budget` bytes have moved (returns
 * EINPROGRESS, so the caller can report progress and check for abort). */
int zc_run(const zc_backend *b, zc_transfer *t, uint64_t budget);

/* File bytes the next step may ask for. */
static inline uint64_t zc_file_chunk(const zc_transfer *t) {
  return t->remaining < t->chunk_limit ? t->remaining : t->chunk_limit;
}

static inline int zc_done(const zc_transfer *t) {
  return t->nheaders == 0 && t->remaining == 0 && t->ntrailers == 0;
}

#ifdef __cplusplus
}
#endif

#endif
