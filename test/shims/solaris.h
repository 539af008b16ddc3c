/* What Solaris's <sys/sendfile.h> gives native/solaris/sendfilev_solaris.c,
 * for shim builds, where CMake force-includes this file into it. The call is
 * renamed so that it binds to test/shims/solaris.c and can never meet another
 * definition of the name. Test code: never shipped. */
#ifndef ZEROCOPY_SHIM_SOLARIS_H
#define ZEROCOPY_SHIM_SOLARIS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct sendfilevec {
  int sfv_fd;            /* input descriptor, or SFV_FD_SELF for memory */
  unsigned int sfv_flag; /* reserved: 0 */
  off_t sfv_off;         /* file offset, or the buffer's address */
  size_t sfv_len;        /* bytes */
} sendfilevec_t;

#define SFV_FD_SELF (-2)

#define sendfilev zc_shim_solaris_sendfilev
ssize_t sendfilev(int fildes, const struct sendfilevec *vec, int sfvcnt, size_t *xferred);

#endif
