/* Systems without read leases: none is ever held. */
#include "../lease.h"

int zc_leases_supported(void) { return 0; }
int zc_lease_take(int fd) { (void)fd; return 0; }
int zc_lease_broken(int fd) { (void)fd; return 0; }
void zc_lease_drop(int fd) { (void)fd; }
