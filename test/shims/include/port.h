/* Stands in for <port.h> in shim builds (see test/shims/ports.h). */
#include "../ports.h"
