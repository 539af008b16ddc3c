/* The backends a build offers, best first. CMake names the system's own
 * backend (ZC_SYSTEM_BACKEND); the fallbacks follow it on every Unix. */
#include "../zerocopy.h"

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
