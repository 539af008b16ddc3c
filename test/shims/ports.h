/* What Solaris's and illumos's <port.h> give native/solaris/wait_port.c,
 * for shim builds, where test/shims/include/port.h stands in for that
 * header. Values are illumos's. Linux has no event ports, so nothing is
 * renamed. Test code: never shipped. */
#ifndef ZEROCOPY_SHIM_PORTS_H
#define ZEROCOPY_SHIM_PORTS_H

#include <stdint.h>
#include <time.h>

typedef unsigned int uint_t;
typedef struct timespec timespec_t;

typedef struct port_event {
  int portev_events;            /* what happened: poll(2) events for an fd */
  unsigned short portev_source; /* PORT_SOURCE_* */
  unsigned short portev_pad;
  uintptr_t portev_object;      /* the descriptor, for PORT_SOURCE_FD */
  void *portev_user;            /* the user value of the association or event */
} port_event_t;

#define PORT_SOURCE_AIO 1
#define PORT_SOURCE_TIMER 2
#define PORT_SOURCE_USER 3
#define PORT_SOURCE_FD 4
#define PORT_SOURCE_ALERT 5
#define PORT_SOURCE_MQ 6
#define PORT_SOURCE_FILE 7

/* Solaris's errno for "not an event port" or "not a valid descriptor";
 * glibc has it too. */
#include <errno.h>

int port_create(void);
int port_associate(int port, int source, uintptr_t object, int events, void *user);
int port_dissociate(int port, int source, uintptr_t object);
int port_send(int port, int events, void *user);
int port_getn(int port, port_event_t list[], uint_t max, uint_t *nget, const timespec_t *timeout);

#endif
