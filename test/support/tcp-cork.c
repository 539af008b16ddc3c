/* Reads (and with an argument, first sets) TCP_CORK on descriptor 3, which
 * the test hands over as a duplicate of a socket it holds: the option
 * belongs to the socket, so both see the same value. Prints it (0 or 1).
 * Node has no getsockopt; test/cork.test.ts builds this with cc. */
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  int value;
  socklen_t len = sizeof value;
  if (argc > 1) {
    value = atoi(argv[1]);
    if (setsockopt(3, IPPROTO_TCP, TCP_CORK, &value, sizeof value) != 0) return perror("setsockopt"), 1;
  }
  if (getsockopt(3, IPPROTO_TCP, TCP_CORK, &value, &len) != 0) return perror("getsockopt"), 1;
  printf("%d\n", value);
  return 0;
}
