/*
 * Waiting for descriptors to become writable (a transfer's output) or
 * readable (the input of a receive or a relay): one small file per system's
 * readiness interface (epoll, kqueue, event ports, /dev/poll), with poll(2)
 * as the portable fallback, chosen at build time as the backends are.
 *
 * Each descriptor is registered once per transfer and reported once per
 * arming, so a wait costs what is ready, not what is waiting: a thousand
 * parked transfers cost nothing until one of them can move. The driver
 * thread waits; the JS thread arms and forgets, so every call but
 * zc_waiter_wait may come from any thread (callers serialise arm and
 * forget of one descriptor).
 */
#ifndef ZEROCOPY_WAITER_H
#define ZEROCOPY_WAITER_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct zc_waiter zc_waiter;

/* The interface's name, for capabilities(): "epoll", "kqueue", ... */
extern const char zc_waiter_name[];

/* Creates a waiter; NULL with errno set when the system refuses. */
zc_waiter *zc_waiter_open(void);
void zc_waiter_close(zc_waiter *w);

/* What a descriptor is waited for: room for more bytes, or bytes (or the
 * end of the stream) to read. Either includes an error or hang-up, which
 * the next call reports. */
#define ZC_WAIT_WRITE 1u
#define ZC_WAIT_READ 2u

/* Asks for one report under `token` when fd is ready for one of `events`
 * (ZC_WAIT_WRITE, ZC_WAIT_READ or both). `again` is 0 for the first arming
 * of this descriptor and 1 after a report; arming a descriptor that is
 * still armed replaces its token and events. A descriptor armed for both
 * may be reported once for each where the interface registers them apart
 * (kqueue), and an event dropped by arming again may still be reported
 * once: callers treat a report as "try again", never as a promise. Returns
 * 0; EPERM for a descriptor that cannot be waited on because it never
 * blocks (a regular file, a device such as /dev/null), which the caller
 * steps at once; or another errno. */
int zc_waiter_arm(zc_waiter *w, int fd, uint64_t token, unsigned events, int again);

/* Forgets fd. Call it before closing fd: some interfaces keep a closed
 * descriptor's registration while a duplicate of it stays open. */
void zc_waiter_forget(zc_waiter *w, int fd);

/* For zc_waiter_open's failures: closes what was opened and returns NULL
 * with the failing call's errno, which closing must not overwrite. */
static inline zc_waiter *zc_waiter_abandon(zc_waiter *w) {
  int err = errno;
  zc_waiter_close(w);
  errno = err;
  return NULL;
}

/* Makes a zc_waiter_wait in progress (or the next one) return. */
void zc_waiter_wake(zc_waiter *w);

/* Waits until something is ready or a wake. Stores up to `max` tokens and
 * returns their count (0 after a wake or a signal). */
int zc_waiter_wait(zc_waiter *w, uint64_t *tokens, int max);

#ifdef __cplusplus
}
#endif

#endif
