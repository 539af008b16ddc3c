/* Systems without a call of their own that opens beneath a folder: the
 * walk (open_walk.c) is how. */
#include "../open_beneath.h"

int zc_open_beneath(int root_fd, const char *root_path, const char *path, int no_symlinks) {
  return zc_open_walk(root_fd, root_path, path, no_symlinks);
}
