/*
 * Read leases on a transfer's input, for the mmap backend's transfers that
 * ask for one: while the lease is held, another process that opens the
 * file for writing or truncates it is held back until we let go, so the
 * transfer stops before the file changes under its mapping. Linux has them
 * (fcntl F_SETLEASE: linux/lease_linux.c); elsewhere there are none
 * (shared/lease_none.c), and a transfer goes on without.
 */
#ifndef ZEROCOPY_LEASE_H
#define ZEROCOPY_LEASE_H

#ifdef __cplusplus
extern "C" {
#endif

/* Whether this process can take leases (capabilities().leases). */
int zc_leases_supported(void);

/* Takes a read lease on fd: 1 when held, 0 when the kernel refuses (the
 * file is open for writing somewhere, or we neither own it nor may). */
int zc_lease_take(int fd);

/* Whether a lease taken on fd has been broken (and so given up). */
int zc_lease_broken(int fd);

/* Gives the lease up. */
void zc_lease_drop(int fd);

#ifdef __cplusplus
}
#endif

#endif
