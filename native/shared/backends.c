/* The backends a build offers, best first, and the lookups in it. CMake
 * names the system's own backend (ZC_SYSTEM_BACKEND); the fallbacks follow
 * it on every Unix, and the loop falls back along this list when a call
 * refuses a transfer. */
#include "../zerocopy.h"

#include <string.h>

#ifdef ZC_SYSTEM_BACKEND
extern const zc_backend ZC_SYSTEM_BACKEND;
#endif
extern const zc_backend zc_fallback_mmap;
extern const zc_backend zc_fallback_readwrite;

const zc_backend *const zc_backends[] = {
#ifdef ZC_SYSTEM_BACKEND
    &ZC_SYSTEM_BACKEND,
#endif
    &zc_fallback_mmap,
    &zc_fallback_readwrite,
    0,
};

const zc_backend *zc_find_backend(const char *name) {
  for (const zc_backend *const *b = zc_backends; *b; b++)
    if (strcmp((*b)->name, name) == 0) return *b;
  return NULL;
}

const zc_backend *zc_pick_backend(enum zc_output_kind kind) {
  for (const zc_backend *const *b = zc_backends; *b; b++)
    if ((*b)->outputs & ZC_OUTPUT(kind)) return *b;
  return NULL;
}
