/* zc_open_beneath by walking: each component is opened relative to the
 * folder before it with O_NOFOLLOW, so what is opened is what was checked.
 * A symbolic link met on the way is read (readlinkat) and its target walked
 * in its place: a relative one from the folder that holds it, an absolute
 * one from the root when it names a path below the root. `..` goes back
 * to the folder walked before, never above the root. What it refuses, it
 * refuses as Linux's RESOLVE_BENEATH does: EXDEV for a climb above the root
 * (or an absolute target elsewhere), ELOOP past MAX_LINKS links. */
#include "../open_beneath.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* As Linux's own limit on links followed in one lookup. */
#define MAX_LINKS 40
/* Folders open at once on the way down. */
#define MAX_DEPTH 128

#ifndef PATH_MAX
#define PATH_MAX 4096
#endif

/* Replaces the front of `rest` (after `used` bytes) with `target`: the
 * components still to walk are the link's target, then what followed it. */
static int splice_target(char *rest, size_t size, size_t used, const char *target, size_t n) {
  size_t tail = strlen(rest + used);
  if (n + 1 + tail + 1 > size) return ENAMETOOLONG;
  memmove(rest + n + 1, rest + used, tail + 1);
  memcpy(rest, target, n);
  rest[n] = '/';
  return 0;
}

/* The part of an absolute `target` below the root, or NULL when it lies elsewhere. */
static const char *below_root(const char *target, const char *root_path) {
  size_t n = strlen(root_path);
  while (n > 0 && root_path[n - 1] == '/') n--;
  if (strncmp(target, root_path, n) != 0) return NULL;
  if (target[n] == '\0') return target + n;
  return target[n] == '/' ? target + n + 1 : NULL;
}

int zc_open_walk(int root_fd, const char *root_path, const char *path, int no_symlinks) {
  char rest[2 * PATH_MAX];
  if (strlen(path) >= sizeof rest) return -ENAMETOOLONG;
  strcpy(rest, path);
  int dirs[MAX_DEPTH];
  int depth = 0; /* dirs[0..depth) are ours; the folder we stand in is the last, or the root */
  int links = 0;
  int result = -ENOENT;
  for (;;) {
    char *name = rest;
    while (*name == '/') name++;
    if (*name == '\0') {
      /* Nothing named below the root (or only a folder): not a file to open here. */
      result = -EISDIR;
      break;
    }
    size_t len = strcspn(name, "/");
    int last = name[len + strspn(name + len, "/")] == '\0';
    size_t used = (size_t)(name - rest) + len;
    char saved = name[len];
    name[len] = '\0';
    int at = depth > 0 ? dirs[depth - 1] : root_fd;
    if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
      if (name[1] == '.') {
        if (depth == 0) { result = -EXDEV; break; }
        close(dirs[--depth]);
      }
      name[len] = saved;
      if (last) { result = -EISDIR; break; }
      memmove(rest, rest + used, strlen(rest + used) + 1);
      continue;
    }
    /* O_RDONLY for a folder on the way: a folder we may search but not
     * read is refused here, where a plain open would pass through it. */
    int flags = last ? O_RDONLY | O_NONBLOCK : O_RDONLY | O_DIRECTORY;
    int fd = openat(at, name, flags | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
      int err = errno;
      struct stat st;
      /* O_NOFOLLOW on a link fails with ELOOP on Linux, EMLINK on FreeBSD,
       * EFTYPE on NetBSD: ask the file itself. */
      if (fstatat(at, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) { result = -err; break; }
      if (no_symlinks || ++links > MAX_LINKS) { result = -ELOOP; break; }
      char target[PATH_MAX];
      ssize_t n = readlinkat(at, name, target, sizeof target - 1);
      if (n < 0) { result = -errno; break; }
      if ((size_t)n == sizeof target - 1) { result = -ENAMETOOLONG; break; }
      if (n == 0) { result = -ENOENT; break; }
      target[n] = '\0';
      const char *from = target;
      if (target[0] == '/') {
        /* An absolute link is walked from the root, if it leads below it. */
        from = below_root(target, root_path);
        if (from == NULL) { result = -EXDEV; break; }
        while (depth > 0) close(dirs[--depth]);
        at = root_fd;
        if (*from == '\0') from = ".";
      }
      name[len] = saved;
      int e = splice_target(rest, sizeof rest, used, from, strlen(from));
      if (e != 0) { result = -e; break; }
      continue;
    }
    if (last) { result = fd; break; }
    if (depth == MAX_DEPTH) { close(fd); result = -ENAMETOOLONG; break; }
    dirs[depth++] = fd;
    name[len] = saved;
    memmove(rest, rest + used, strlen(rest + used) + 1);
  }
  while (depth > 0) close(dirs[--depth]);
  return result;
}
