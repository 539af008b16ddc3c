/* See readiness.h. */
#define _GNU_SOURCE
#include "readiness.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

static pthread_mutex_t registry_mu = PTHREAD_MUTEX_INITIALIZER;
static shim_instance *registry;

/* Unlinks the instance under fd; the caller holds registry_mu. */
static shim_instance *unlink_instance(int fd) {
  for (shim_instance **p = &registry; *p; p = &(*p)->next) {
    if ((*p)->fd != fd) continue;
    shim_instance *found = *p;
    *p = found->next;
    return found;
  }
  return NULL;
}

static void free_instance(shim_instance *in) {
  if (!in) return;
  pthread_mutex_destroy(&in->mu);
  free(in);
}

void *shim_instance_new(size_t size) {
  shim_instance *in = calloc(1, size);
  if (!in) return NULL;
  in->fd = eventfd(0, EFD_NONBLOCK);
  if (in->fd < 0) {
    int err = errno;
    free(in);
    errno = err;
    return NULL;
  }
  pthread_mutex_init(&in->mu, NULL);
  pthread_mutex_lock(&registry_mu);
  free_instance(unlink_instance(in->fd));
  in->next = registry;
  registry = in;
  pthread_mutex_unlock(&registry_mu);
  return in;
}

void *shim_instance_find(int fd) {
  pthread_mutex_lock(&registry_mu);
  shim_instance *in = registry;
  while (in && in->fd != fd) in = in->next;
  pthread_mutex_unlock(&registry_mu);
  return in;
}

void shim_instance_drop(int fd) {
  pthread_mutex_lock(&registry_mu);
  free_instance(unlink_instance(fd));
  pthread_mutex_unlock(&registry_mu);
}

void shim_instance_signal(shim_instance *in) {
  uint64_t one = 1;
  (void)!write(in->fd, &one, sizeof one);
}

void shim_instance_signal_all(void) {
  pthread_mutex_lock(&registry_mu);
  for (shim_instance *in = registry; in; in = in->next) shim_instance_signal(in);
  pthread_mutex_unlock(&registry_mu);
}

void shim_instance_drain(shim_instance *in) {
  uint64_t count;
  (void)!read(in->fd, &count, sizeof count);
}

int shim_timeout_ms(const struct timespec *timeout) {
  if (!timeout) return -1;
  long long ms = (long long)timeout->tv_sec * 1000 + (timeout->tv_nsec + 999999) / 1000000;
  return ms > 0x7fffffff ? 0x7fffffff : (int)ms;
}
