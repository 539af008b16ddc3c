/* Stands in for <sys/event.h> in shim builds (see test/shims/kqueue.h). */
#include "../../kqueue.h"
