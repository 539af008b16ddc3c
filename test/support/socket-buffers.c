/* Sets SO_SNDBUF and SO_RCVBUF of descriptor 3, which the test hands over
 * as a duplicate of a socket it holds (a connection, or a listening socket,
 * whose accepted connections inherit them), to argv[1] bytes. Node sets
 * neither on TCP; test/support/sockets.ts builds this with cc. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc != 2) return fprintf(stderr, "usage: socket-buffers BYTES\n"), 2;
  int size = atoi(argv[1]);
  if (setsockopt(3, SOL_SOCKET, SO_SNDBUF, &size, sizeof size) != 0) return perror("SO_SNDBUF"), 1;
  if (setsockopt(3, SOL_SOCKET, SO_RCVBUF, &size, sizeof size) != 0) return perror("SO_RCVBUF"), 1;
  return 0;
}
