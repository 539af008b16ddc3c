/* Linux: zc_open_beneath is openat2(2) (Linux 5.6) with RESOLVE_BENEATH,
 * which makes the kernel refuse any step of the lookup that would leave
 * the root, races included. The walk stands in where the call is missing
 * or a sandbox's filter refuses it, and judges what RESOLVE_BENEATH refuses
 * whole: an absolute link, which may well lead below the root. */
#define _GNU_SOURCE
#include "../open_beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sys/syscall.h>
#include <unistd.h>

#if !defined(__linux__)
#error "open_linux.c is the Linux zc_open_beneath; CMakeLists.txt picks it for Linux only"
#endif

/* openat2 gives EAGAIN when a rename or mount elsewhere raced the lookup
 * and the kernel cannot vouch for it: it asks to be called again. */
#define AGAIN_TRIES 8

int zc_open_beneath(int root_fd, const char *root_path, const char *path, int no_symlinks) {
  struct open_how how = {
      .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC,
      /* Magic links (/proc/self/fd/N) are links out of anywhere. */
      .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | (no_symlinks ? RESOLVE_NO_SYMLINKS : 0),
  };
  for (int i = 0; i < AGAIN_TRIES; i++) {
    long fd = syscall(SYS_openat2, root_fd, path, &how, sizeof how);
    if (fd >= 0) return (int)fd;
    /* Before 5.6 (ENOSYS), or a seccomp filter that does not know the
     * call (ENOSYS, or EPERM under some): walk it. */
    if (errno == ENOSYS || errno == EPERM) return zc_open_walk(root_fd, root_path, path, no_symlinks);
    if (errno == EXDEV && !no_symlinks) return zc_open_walk(root_fd, root_path, path, no_symlinks);
    if (errno != EAGAIN) return -errno;
  }
  return zc_open_walk(root_fd, root_path, path, no_symlinks);
}
