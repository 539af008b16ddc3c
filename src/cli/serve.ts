// `zerocopy serve`: serveStatic behind node:http (or node:https), a folder
// served from the shell as a server people keep running. The flags become
// serveStatic's options; the command adds only what a command-line server
// owes its user: a line per request, CORS headers, HTTPS from two files,
// clear listen errors, and worker processes (workers.ts). It runs until
// Ctrl-C or SIGTERM, then closes the server and the handler's cache and
// exits 0.
import { stat, readFile } from 'node:fs/promises';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSecureContext } from 'node:tls';
import { serveStatic, type ServeStaticOptions } from '../index.js';
import { parse, parseDuration, parsePort, UsageError, wantsHelp } from './args.js';
import { failure } from './errors.js';
import { DEFAULT_HOST, listen } from './listen.js';
import { print } from './output.js';
import { interrupted } from './signals.js';
import { isWorker, runPrimary, runWorker, type RunningServer } from './workers.js';

export const serveHelp = `usage: zerocopy serve [DIR] [options]

Serves the files under DIR (default: the current directory) over HTTP with
serveStatic: GET and HEAD, ranges, conditional requests, index.html for
folders; dotfiles are not served (.well-known is). Prints "serving DIR at
URL", then a line per request on stdout:
  METHOD PATH STATUS BYTES TIME
BYTES counts the body; a response cut short by its client shows "-" and
"incomplete". Ctrl-C (SIGINT) or SIGTERM closes the server, and every
worker, and exits 0.

Options:
  -p, --port N        the TCP port (default 8080; 0 picks a free one and
                      prints it)
  --host H            the address to listen on (default 127.0.0.1, this
                      machine only; 0.0.0.0 or :: for every interface)
  -q, --quiet         no line per request
  --cors              allow every origin: Access-Control-Allow-Origin: * on
                      every response, and CORS preflight requests answered
  --max-age AGE       Cache-Control: max-age: seconds (3600), or a number
                      with a unit: ms, s, m, h, d, w, y (10m, 12h, 7d);
                      default 0, capped at a year
  --immutable         add immutable to Cache-Control
  --precompressed     serve FILE.br or FILE.gz, when one is beside FILE, to
                      clients that accept it
  --extensions LIST   extensions tried, in order, for a URL without one that
                      names nothing: html,htm serves /about from about.html
  --single            a single-page app: a URL that names nothing and has no
                      extension gets DIR/index.html (a missing /app.js stays
                      404)
  --listing           a folder without index.html is answered with a listing
                      (HTML, or JSON to a client that asks for it)
  --tls-cert FILE     serve HTTPS with this certificate (PEM)...
  --tls-key FILE      ...and its private key (PEM): both or neither. File
                      bodies then go through the stream backend, which TLS
                      needs: encrypted in this process, not zero-copy
  --workers N|auto    N worker processes sharing the port (node:cluster;
                      auto: one per CPU), each with its own addon; one that
                      dies is replaced
  -h, --help          this help
`;

/** Everything the command line says, checked. */
interface ServeConfig {
  dir: string;
  port: number;
  host: string;
  tls?: { cert: string; key: string };
  quiet: boolean;
  cors: boolean;
  options: ServeStaticOptions;
  workers?: number;
}

const MAX_WORKERS = 1024;

function parseServeArgs(args: string[]): ServeConfig {
  const { values, positionals } = parse(
    'serve',
    args,
    {
      port: { type: 'string', short: 'p' },
      host: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      cors: { type: 'boolean' },
      'max-age': { type: 'string' },
      immutable: { type: 'boolean' },
      precompressed: { type: 'boolean' },
      extensions: { type: 'string' },
      single: { type: 'boolean' },
      listing: { type: 'boolean' },
      'tls-cert': { type: 'string' },
      'tls-key': { type: 'string' },
      workers: { type: 'string' },
    },
    { min: 0, max: 1, names: ['DIR'] },
  );
  const host = values.host ?? DEFAULT_HOST;
  if (host === '') throw new UsageError('--host: expected a host name or address', 'serve');
  const cert = values['tls-cert'];
  const key = values['tls-key'];
  if ((cert === undefined) !== (key === undefined)) throw new UsageError(`${cert === undefined ? '--tls-key' : '--tls-cert'} needs ${cert === undefined ? '--tls-cert' : '--tls-key'} too`, 'serve');
  const options: ServeStaticOptions = {};
  if (values['max-age'] !== undefined) options.maxAge = parseDuration('serve', '--max-age', values['max-age']);
  if (values.immutable) options.immutable = true;
  if (values.precompressed) options.precompressed = true;
  if (values.extensions !== undefined) options.extensions = parseExtensions(values.extensions);
  if (values.single) options.single = true;
  if (values.listing) options.listing = true;
  return {
    dir: resolve(positionals[0] ?? '.'),
    port: values.port === undefined ? 8080 : parsePort('serve', '--port', values.port),
    host,
    tls: cert !== undefined && key !== undefined ? { cert, key } : undefined,
    quiet: values.quiet ?? false,
    cors: values.cors ?? false,
    options,
    workers: values.workers === undefined ? undefined : parseWorkers(values.workers),
  };
}

/** `html,htm` (a leading dot allowed) as serveStatic's extensions. */
function parseExtensions(text: string): string[] {
  const names = text.split(',').map((name) => name.trim().replace(/^\./, ''));
  const bad = names.find((name) => !/^[\w-]+(\.[\w-]+)*$/.test(name));
  if (bad !== undefined) throw new UsageError(`--extensions: expected extensions separated by commas, such as html,htm; got '${text}'`, 'serve');
  return names;
}

function parseWorkers(text: string): number {
  if (text === 'auto') return availableParallelism();
  if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > MAX_WORKERS) {
    throw new UsageError(`--workers: expected auto or a number from 1 to ${MAX_WORKERS}, got '${text}'`, 'serve');
  }
  return Number(text);
}

export async function serveCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(serveHelp);
  const config = parseServeArgs(args);
  if (!(await stat(config.dir)).isDirectory()) throw failure('ENOTDIR', `not a directory: '${config.dir}'`);
  // Read and checked before any worker starts, so that a bad file is one error.
  const tls = config.tls && (await readTls(config.tls));
  if (config.workers === undefined) {
    const server = await startServer(config, tls);
    print(startupLine(config, server.address));
    await interrupted();
    await server.stop();
    return 0;
  }
  if (isWorker()) return runWorker(() => startServer(config, tls));
  return runPrimary(config.workers, (address) => print(startupLine(config, address)));
}

/** `serving DIR at URL`, and what the user should know about how. */
function startupLine(config: ServeConfig, address: string): string {
  const notes = [];
  if (config.tls) notes.push('HTTPS: file bodies go through the stream backend, encrypted in this process');
  if (config.workers !== undefined) notes.push(`${config.workers} worker${config.workers === 1 ? '' : 's'}`);
  return `serving ${config.dir} at ${config.tls ? 'https' : 'http'}://${address}/${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

async function readTls(paths: { cert: string; key: string }): Promise<{ cert: Buffer; key: Buffer }> {
  const [cert, key] = await Promise.all([readFile(paths.cert), readFile(paths.key)]);
  try {
    createSecureContext({ cert, key });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    throw failure(code ?? 'ERR_TLS', `--tls-cert ${paths.cert} --tls-key ${paths.key}: ${message}`);
  }
  return { cert, key };
}

/** A listening server: its address (`HOST:PORT`) and the way to close it, its connections and its cache. */
async function startServer(config: ServeConfig, tls: { cert: Buffer; key: Buffer } | undefined): Promise<RunningServer> {
  const handler = serveStatic(config.dir, config.options);
  // A reader of the log that goes away (`zerocopy serve | head`) ends the log, not the server.
  let logging = !config.quiet;
  process.stdout.on('error', () => (logging = false));
  const listener = (req: IncomingMessage, res: ServerResponse) => {
    if (logging) logWhenDone(req, res);
    if (config.cors && answerCors(req, res)) return;
    void handler(req, res);
  };
  const server = tls ? createHttpsServer(tls, listener) : createHttpServer(listener);
  let address;
  try {
    address = await listen(server, config.port, config.host);
  } catch (error) {
    await handler.close();
    throw error;
  }
  return {
    address,
    stop: async () => {
      const closed = new Promise<void>((done) => server.close(() => done()));
      server.closeAllConnections();
      await Promise.all([closed, handler.close()]);
    },
  };
}

/** Prints `METHOD PATH STATUS BYTES TIME` when the response is done, or cut short. */
function logWhenDone(req: IncomingMessage, res: ServerResponse): void {
  const started = performance.now();
  res.once('close', () => {
    const ms = `${(performance.now() - started).toFixed(1)}ms`;
    const status = res.headersSent ? res.statusCode : '-';
    const line = res.writableFinished ? `${bodyBytes(req, res)} ${ms}` : `- ${ms} incomplete`;
    process.stdout.write(`${req.method} ${req.url} ${status} ${line}\n`);
  });
}

/** The body bytes of a complete response: what its Content-Length said, none for HEAD, 304, 204 and 1xx. */
function bodyBytes(req: IncomingMessage, res: ServerResponse): number {
  const status = res.statusCode;
  if (req.method === 'HEAD' || status === 304 || status === 204 || status < 200) return 0;
  return Number(res.getHeader('content-length') ?? 0);
}

/** Headers a page from another origin may read besides the CORS-safelisted ones: what ranges and revalidation need. */
const EXPOSED = 'Accept-Ranges, Content-Encoding, Content-Range, ETag';

/** Sets the CORS headers; answers a preflight request itself (and says so by returning true). */
function answerCors(req: IncomingMessage, res: ServerResponse): boolean {
  res.setHeader('Access-Control-Allow-Origin', '*');
  if (req.method !== 'OPTIONS' || req.headers['access-control-request-method'] === undefined) {
    res.setHeader('Access-Control-Expose-Headers', EXPOSED);
    return false;
  }
  const headers: Record<string, string> = {
    'Access-Control-Allow-Methods': 'GET, HEAD',
    'Access-Control-Max-Age': '86400',
  };
  const requested = req.headers['access-control-request-headers'];
  if (requested) headers['Access-Control-Allow-Headers'] = requested;
  res.writeHead(204, headers);
  res.end();
  return true;
}
