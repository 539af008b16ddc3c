// `zerocopy serve`: serveStatic behind node:http (or node:https), a folder
// served from the shell as a server people keep running. The flags become
// serveStatic's options; the command adds only what a command-line server
// owes its user: a line per request, CORS headers, HTTPS from two files,
// clear listen errors, and worker processes (workers.ts). It runs until
// Ctrl-C or SIGTERM, then closes the server and the handler's cache and
// exits 0.
import { stat, readFile } from 'node:fs/promises';
import type { Server } from 'node:net';
import { createServer as createHttpServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { availableParallelism, networkInterfaces } from 'node:os';
import { resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createSecureContext } from 'node:tls';
import { serveStatic, type ServeStaticOptions } from '../index.js';
import { parse, parseDuration, parsePort, UsageError, wantsHelp } from './args.js';
import { failure } from './errors.js';
import { DEFAULT_HOST, formatAddress, listen } from './listen.js';
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
  -p, --port N        the TCP port (default 8080, or the next free one when
                      8080 is taken; 0 picks a free one and prints it)
  --host H            the address to listen on (default 127.0.0.1, this
                      machine only; 0.0.0.0 or :: for every interface, and
                      the startup line lists the addresses it is reached at)
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
                      bodies are then encrypted in this process, not
                      zero-copy: small ones from a copy kept in memory,
                      large ones read in chunks
  --workers N|auto    N worker processes sharing the port (node:cluster;
                      auto: one per CPU), each with its own addon; one that
                      dies is replaced
  -h, --help          this help
`;

/** Everything the command line says, checked. */
interface ServeConfig {
  dir: string;
  port: number;
  /** Whether --port named the port: the default gives way to the next free one, a port asked for does not. */
  portGiven: boolean;
  host: string;
  tls?: { cert: string; key: string };
  quiet: boolean;
  cors: boolean;
  options: ServeStaticOptions;
  workers?: number;
}

const MAX_WORKERS = 1024;
const DEFAULT_PORT = 8080;
/** Ports tried after the default one when it is taken, before any free one. */
const NEXT_PORTS = 10;

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
    port: values.port === undefined ? DEFAULT_PORT : parsePort('serve', '--port', values.port),
    portGiven: values.port !== undefined,
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
    print(startupLine(config, server.address, server.moved));
    await interrupted();
    await server.stop();
    return 0;
  }
  if (isWorker()) return runWorker(() => startServer(config, tls));
  return runPrimary(config.workers, (address) => print(startupLine(config, address)));
}

/** `serving DIR at URL`, and what the user should know about how. */
function startupLine(config: ServeConfig, address: string, moved?: string): string {
  const scheme = config.tls ? 'https' : 'http';
  const [first, ...others] = reachableAt(config.host, address);
  const notes = [];
  if (others.length > 0) notes.push(`also ${others.map((a) => `${scheme}://${a}/`).join(', ')}`);
  if (moved) notes.push(moved);
  if (config.tls) notes.push('HTTPS: file bodies come from memory or go through the stream backend, encrypted in this process');
  if (config.workers !== undefined) notes.push(`${config.workers} worker${config.workers === 1 ? '' : 's'}`);
  return `serving ${config.dir} at ${scheme}://${first}/${notes.length ? ` (${notes.join('; ')})` : ''}`;
}

/**
 * Where a server listening at `address` is reached: that address, or, when
 * it listens on every interface (0.0.0.0, ::), this machine's addresses,
 * loopback first (IPv6 ones only for ::, link-local ones left out).
 */
function reachableAt(host: string, address: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [address];
  const port = Number(address.slice(address.lastIndexOf(':') + 1));
  const found = Object.values(networkInterfaces())
    .flat()
    .filter((i) => i !== undefined && (i.family === 'IPv4' || (host === '::' && !i.address.startsWith('fe80'))))
    .sort((a, b) => Number(b!.internal) - Number(a!.internal))
    .map((i) => formatAddress(i!.address, port));
  return found.length > 0 ? found : [address];
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

/**
 * Listens where the config says. The default port, when another program
 * has it, gives way to the next free one (as serve and sirv-cli do), and
 * the note says so; a port asked for with --port does not.
 */
async function listenSomewhere(server: Server, config: ServeConfig): Promise<{ address: string; moved?: string }> {
  const inUse = (error: unknown) => (error as { code?: string })?.code === 'EADDRINUSE';
  try {
    return { address: await listen(server, config.port, config.host) };
  } catch (error) {
    if (config.portGiven || !inUse(error)) throw error;
  }
  const moved = `${config.port} is in use by another program`;
  for (let port = config.port + 1; port <= config.port + NEXT_PORTS; port++) {
    try {
      return { address: await listen(server, port, config.host), moved };
    } catch (error) {
      if (!inUse(error)) throw error;
    }
  }
  return { address: await listen(server, 0, config.host), moved };
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
  let listening;
  try {
    listening = await listenSomewhere(server, config);
  } catch (error) {
    await handler.close();
    throw error;
  }
  return {
    ...listening,
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
