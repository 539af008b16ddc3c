/* Linux read leases: fcntl(F_SETLEASE, F_RDLCK), broken by the kernel when
 * another process opens the file for writing or truncates it (fcntl(2),
 * "Leases"). */
#define _GNU_SOURCE
#include "../lease.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#if !defined(__linux__)
#error "lease_linux.c holds Linux's read leases; CMakeLists.txt picks it for Linux only"
#endif

/* A lease break is announced by a signal, SIGIO unless F_SETSIG names
 * another, and SIGIO would kill the process. We point it at a real-time
 * signal whose handler gives the lease up at once (fcntl is safe in a
 * signal handler): the process breaking it, perhaps our own, waits until
 * we do, and our transfer may be parked waiting for a slow peer. The
 * transfer learns of it at its next step, from F_GETLEASE. */
static int lease_signal;
static pthread_once_t lease_once = PTHREAD_ONCE_INIT;

static void release_lease(int sig, siginfo_t *info, void *ctx) {
  (void)sig, (void)ctx;
  int saved = errno;
  fcntl(info->si_fd, F_SETLEASE, F_UNLCK);
  errno = saved;
}

static void install_lease_signal(void) {
  int sig = SIGRTMIN + 6;
  struct sigaction current;
  /* Someone else's handler: leave their signal alone and go without. */
  if (sigaction(sig, NULL, &current) != 0 || current.sa_handler != SIG_DFL) return;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = release_lease;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(sig, &sa, NULL) == 0) lease_signal = sig;
}

int zc_leases_supported(void) {
  pthread_once(&lease_once, install_lease_signal);
  return lease_signal != 0;
}

int zc_lease_take(int fd) {
  /* The kernel refuses while anyone has the file open for writing, or
   * when we neither own it nor hold CAP_LEASE: we go on without. */
  if (!zc_leases_supported()) return 0;
  if (fcntl(fd, F_SETSIG, lease_signal) != 0) return 0;
  return fcntl(fd, F_SETLEASE, F_RDLCK) == 0;
}

/* Broken, or already given up by the signal handler. */
int zc_lease_broken(int fd) { return fcntl(fd, F_GETLEASE) == F_UNLCK; }

void zc_lease_drop(int fd) { fcntl(fd, F_SETLEASE, F_UNLCK); }
