// `zerocopy serve`: serveStatic behind a plain node:http server, to serve a
// folder from the shell, with the file cache on. Runs until Ctrl-C or
// SIGTERM, then closes the server and the handler's cache and exits 0.
import { stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import { resolve } from 'node:path';
import { serveStatic } from '../index.js';
import { parse, parsePort, UsageError, wantsHelp } from './args.js';
import { failure } from './errors.js';
import { listen } from './listen.js';
import { print } from './output.js';
import { onInterrupt } from './signals.js';

export const serveHelp = `usage: zerocopy serve [DIR] [--port N] [--host H]

Serves the files under DIR (default: the current directory) over HTTP with
serveStatic: GET and HEAD, ranges, conditional requests, index.html for
directories; dotfiles are not served. Prints "serving DIR at URL".
Ctrl-C (SIGINT) or SIGTERM closes the server and exits 0.

Options:
  -p, --port N   the TCP port (default 8080; 0 picks a free one and prints it)
  --host H       the address to listen on (default 127.0.0.1, this machine
                 only; 0.0.0.0 or :: for every interface)
  -h, --help     this help
`;

export async function serveCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(serveHelp);
  const { values, positionals } = parse(
    'serve',
    args,
    { port: { type: 'string', short: 'p' }, host: { type: 'string' } },
    { min: 0, max: 1, names: ['DIR'] },
  );
  const port = values.port === undefined ? 8080 : parsePort('serve', '--port', values.port);
  const host = values.host ?? '127.0.0.1';
  if (host === '') throw new UsageError('--host: expected a host name or address', 'serve');
  const dir = resolve(positionals[0] ?? '.');
  if (!(await stat(dir)).isDirectory()) throw failure('ENOTDIR', `not a directory: '${dir}'`);

  const handler = serveStatic(dir, { cache: true });
  const server = createServer((req, res) => void handler(req, res));
  const address = await listen(server, port, host);
  process.stdout.write(`serving ${dir} at http://${address}/\n`);

  await new Promise<void>((done) => {
    const remove = onInterrupt(() => {
      remove();
      done();
    });
  });
  const closed = new Promise<void>((done) => server.close(() => done()));
  server.closeAllConnections();
  await Promise.all([closed, handler.close()]);
  return 0;
}
