// Listening, for the commands that wait for connections (serve and recv):
// the server's 'listening' or 'error' as a promise, the address it got in
// the form both commands print, and the reasons a listen fails said in one
// line a person can act on.
import { isIPv6, type AddressInfo, type Server } from 'node:net';
import { failure } from './errors.js';

/** The default address of both commands: this machine only, until the user says otherwise. */
export const DEFAULT_HOST = '127.0.0.1';

/** `HOST:PORT`, an IPv6 host in brackets. */
export function formatAddress(host: string, port: number): string {
  return `${isIPv6(host) ? `[${host}]` : host}:${port}`;
}

/**
 * Listens on `port` (0: a free one) and `host`; resolves with `HOST:PORT`,
 * or rejects with listenError's failure, which names the port as the
 * command line gave it (`portName`: `--port`, or a positional `PORT`).
 */
export function listen(server: Server, port: number, host: string, portName = '--port'): Promise<string> {
  return new Promise((done, fail) => {
    const onError = (error: Error) => fail(listenError(error, host, port, portName));
    server.once('error', onError);
    server.listen(port, host, () => {
      server.removeListener('error', onError);
      const address = server.address() as AddressInfo;
      done(formatAddress(address.address, address.port));
    });
  });
}

/** Why listening on host:port failed, as a failure whose message says what to do; other errors as they are. */
export function listenError(error: unknown, host: string, port: number, portName = '--port'): unknown {
  const code = (error as { code?: string })?.code;
  const where = formatAddress(host, port);
  switch (code) {
    case 'EADDRINUSE':
      return failure(code, `${where} is already in use by another program; choose another ${portName} (0 picks a free one)`);
    case 'EACCES':
      return failure(code, `no permission to listen on ${where}${port < 1024 ? ' (ports below 1024 need root or CAP_NET_BIND_SERVICE)' : ''}`);
    case 'EADDRNOTAVAIL':
      return failure(code, `${host} is not an address of this machine`);
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return failure(code, `cannot resolve the host name '${host}'`);
    default:
      return error;
  }
}
