/* Stands in for <sys/devpoll.h> in shim builds (see test/shims/devpoll.h). */
#include "../../devpoll.h"
