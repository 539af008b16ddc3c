// Listening, for the two commands that wait for connections (serve and
// recv): the server's 'listening' or 'error' as a promise, and the address
// it got in the form both commands print.
import { isIPv6, type AddressInfo, type Server } from 'node:net';

/** Listens on `port` (0: a free one) and `host` (undefined: every interface); resolves with `HOST:PORT`, an IPv6 host in brackets. */
export function listen(server: Server, port: number, host: string | undefined): Promise<string> {
  return new Promise((done, fail) => {
    server.once('error', fail);
    server.listen(port, host, () => {
      server.removeListener('error', fail);
      const address = server.address() as AddressInfo;
      done(`${isIPv6(address.address) ? `[${address.address}]` : address.address}:${address.port}`);
    });
  });
}
