/* What the readiness shims (kqueue.c, ports.c, devpoll.c) share: each
 * instance of a modelled interface (a kqueue, an event port, an open of
 * /dev/poll) is a descriptor of its own, found again by number, with a lock
 * over its state and a way to wake the threads that wait on it. Every shim
 * waits with poll(2) over the descriptors it was given plus that wake-up.
 * Test code: never shipped. */
#ifndef ZEROCOPY_SHIM_READINESS_H
#define ZEROCOPY_SHIM_READINESS_H

#include <pthread.h>
#include <stddef.h>
#include <time.h>

typedef struct shim_instance {
  int fd;             /* an eventfd: the instance's number, and its wake-up */
  pthread_mutex_t mu; /* guards the shim's state of this instance */
  struct shim_instance *next;
} shim_instance;

/* A new zeroed instance of `size` bytes (a struct whose first member is a
 * shim_instance), registered under a new descriptor; NULL with errno set.
 * The shims never see their instances closed (the caller's close(2) is the
 * C library's), so an instance whose number comes back from a new one was
 * closed, and is dropped then. */
void *shim_instance_new(size_t size);

/* The instance registered under fd, or NULL. */
void *shim_instance_find(int fd);

/* Drops the instance registered under fd, if any. */
void shim_instance_drop(int fd);

/* Wakes the threads polling the instance's descriptor, and clears the
 * wake-up once they have seen it. */
void shim_instance_signal(shim_instance *in);
void shim_instance_drain(shim_instance *in);

/* Wakes every instance's waiting threads: readiness changed somewhere the
 * instances cannot see (a shimmed SO_SPLICE dissolved). */
void shim_instance_signal_all(void);

/* A timespec as poll(2)'s milliseconds, rounded up; -1 for NULL. */
int shim_timeout_ms(const struct timespec *timeout);

#endif
