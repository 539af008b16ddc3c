/* What a Linux build offers, best first. */
#include "../zerocopy.h"

extern const zc_backend zc_linux_sendfile;
extern const zc_backend zc_fallback_readwrite;

const zc_backend *const zc_backends[] = {
    &zc_linux_sendfile,
    &zc_fallback_readwrite,
    0,
};

const char *const zc_headers_trailers = "cork";
