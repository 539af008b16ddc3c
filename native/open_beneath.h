/*
 * Opening a file below a folder without leaving it, for serving with the
 * `symlinks` option: a symbolic link inside the root may lead only to
 * somewhere else inside it ('inside'), or none is followed at all
 * ('refuse'). The check is made by the opening itself, relative to a
 * descriptor of the root, so no component can be swapped for a link
 * between a check and the open. Linux has openat2(2) with RESOLVE_BENEATH
 * for it (linux/open_linux.c); elsewhere, and where openat2 is missing, the
 * path is walked one component at a time (shared/open_walk.c).
 */
#ifndef ZEROCOPY_OPEN_BENEATH_H
#define ZEROCOPY_OPEN_BENEATH_H

#ifdef __cplusplus
extern "C" {
#endif

/* Opens `path` (relative, '/'-separated) below the folder open as root_fd,
 * whose real path (no links in it) is root_path, read-only, non-blocking
 * and close-on-exec. Returns the descriptor, or -EXDEV when resolving it
 * would leave the root (a `..` above it, a link whose target does), -ELOOP
 * for a link met with no_symlinks (or too many links), or another -errno of
 * the open. An absolute link is followed when its target lies below
 * root_path. */
int zc_open_beneath(int root_fd, const char *root_path, const char *path, int no_symlinks);

/* The same by walking the path: what zc_open_beneath does where the system
 * has no call of its own for it, or its call refuses an absolute link. */
int zc_open_walk(int root_fd, const char *root_path, const char *path, int no_symlinks);

#ifdef __cplusplus
}
#endif

#endif
