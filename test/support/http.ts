// HTTP for the serve tests: servers on loopback that close every
// connection they still hold when the test is done, a raw HTTP/1.1 client
// that shows the exact bytes a server sent (heads, bodies, pipelining,
// who closed), node:http(s) and curl as ordinary clients.
import { execFile } from 'node:child_process';
import * as http from 'node:http';
import * as https from 'node:https';
import { connect, type AddressInfo, type Server, type Socket } from 'node:net';
import type { ServeStaticOptions, StaticHandler } from '../../dist/cjs/index.js';
import { serveStatic } from '../../dist/cjs/index.js';
import { eventually } from './waiting.js';

export interface Running {
  port: number;
  url: string;
  server: Server;
  /** Destroys every connection the server still has, then stops listening. */
  close(): Promise<void>;
}

/** Starts `server` listening on 127.0.0.1 (any free port) and keeps track of its connections for close(). */
export function listen(server: Server, scheme = 'http'): Promise<Running> {
  const sockets = new Set<Socket>();
  const track = (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  };
  server.on('connection', track);
  // TLS sockets (and so HTTP/2 sessions) arrive through 'secureConnection'.
  server.on('secureConnection', track);
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      resolve({
        port,
        url: `${scheme}://127.0.0.1:${port}`,
        server,
        close: () =>
          new Promise<void>((done) => {
            for (const socket of sockets) socket.destroy();
            server.close(() => done());
          }),
      });
    });
  });
}

/** A node:http server with `handler`, listening as `listen` does. */
export function httpServer(handler: http.RequestListener): Promise<Running> {
  return listen(http.createServer(handler));
}

/** Resolves once the server has no connection left; fails after 5 s. */
export function drained(server: Server): Promise<void> {
  const count = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
  return eventually(async () => (await count()) === 0, 'the server to have no connections');
}

/** The text of an HTTP/1.1 request for `path` (Host: localhost, then `headers`), to send raw. */
export function rawRequest(path: string, headers: Record<string, string> = {}, method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

export interface ParsedResponse {
  status: number;
  reason: string;
  /** Header names lower-cased; repeated ones joined with ', '. */
  headers: Record<string, string>;
  /** The head exactly as it came, through the blank line. */
  head: string;
  body: Buffer;
}

/**
 * Parses consecutive HTTP/1.1 responses out of `bytes`, framed by
 * Content-Length (every response here has one, or no body). `heads` lists
 * which responses answer HEAD requests, which have no body whatever they say.
 * Returns the complete responses and the bytes left over; throws on bytes
 * that do not start with a status line.
 */
export function parseResponses(bytes: Buffer, heads: boolean[] = []): { responses: ParsedResponse[]; rest: Buffer } {
  const responses: ParsedResponse[] = [];
  let offset = 0;
  for (;;) {
    const end = bytes.indexOf('\r\n\r\n', offset);
    if (end === -1) break;
    const head = bytes.subarray(offset, end + 4).toString('latin1');
    const [statusLine, ...lines] = head.slice(0, -4).split('\r\n');
    const match = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
    if (!match) throw new Error(`not a status line: ${JSON.stringify(statusLine)}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      const name = line.slice(0, colon).toLowerCase();
      const value = line.slice(colon + 1).trim();
      headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
    }
    const status = Number(match[1]);
    const bodyless = heads[responses.length] || status === 304 || status === 204 || (status >= 100 && status < 200);
    const length = bodyless ? 0 : Number(headers['content-length'] ?? 0);
    if (bytes.length < end + 4 + length) break;
    responses.push({ status, reason: match[2], headers, head, body: bytes.subarray(end + 4, end + 4 + length) });
    offset = end + 4 + length;
  }
  return { responses, rest: bytes.subarray(offset) };
}

/** One request for `path` on a fresh connection to `to`: its response (a HEAD's without a body). */
export async function one(to: Running | number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<ParsedResponse> {
  const port = typeof to === 'number' ? to : to.port;
  return (await rawExchange(port, rawRequest(path, headers, method), 1, [method === 'HEAD'])).responses[0];
}

/** Servers started by one test file, closed together in its afterAll, with whatever else they hold (a handler's descriptor cache, a Fastify instance). */
export class Servers {
  private readonly running: Running[] = [];
  private readonly closers: (() => Promise<unknown>)[] = [];

  async http(handler: http.RequestListener): Promise<Running> {
    const s = await httpServer(handler);
    this.running.push(s);
    return s;
  }

  async listen(server: Server): Promise<Running> {
    const s = await listen(server);
    this.running.push(s);
    return s;
  }

  /** A node:http server answering every request with `handler`, closed (cache and all) with the others. */
  async handler(handler: StaticHandler): Promise<Running> {
    this.onClose(() => handler.close());
    return this.http((req, res) => void handler(req, res));
  }

  /** A node:http server answering every request with serveStatic(root, options). */
  serveStatic(root: string | URL, options?: ServeStaticOptions): Promise<Running> {
    return this.handler(serveStatic(root, options));
  }

  /** Something else to close at the end. */
  onClose(close: () => Promise<unknown>): void {
    this.closers.push(close);
  }

  async close(): Promise<void> {
    for (const s of this.running.splice(0)) await s.close();
    for (const close of this.closers.splice(0)) await close();
  }
}

/**
 * Sends `requests` (raw request text, all at once: pipelined when there are
 * several) on one connection and collects `expect` responses; then closes
 * the connection, or with `untilClose` waits for the server to close it.
 * Rejects after 10 s with the bytes received so far.
 */
export function rawExchange(
  port: number,
  requests: string | string[],
  expect: number,
  heads: boolean[] = [],
  untilClose = false,
): Promise<{ responses: ParsedResponse[]; raw: Buffer; closed: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = (closed: boolean) => {
      if (done) return;
      const raw = Buffer.concat(chunks);
      const { responses } = parseResponses(raw, heads);
      if (!closed && (untilClose || responses.length < expect)) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve({ responses, raw, closed });
    };
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`timed out; got ${JSON.stringify(Buffer.concat(chunks).toString('latin1').slice(0, 2000))}`));
    }, 10_000);
    socket.on('data', (chunk) => {
      chunks.push(chunk);
      finish(false);
    });
    socket.on('close', () => finish(true));
    socket.on('error', (error) => {
      if (!done) {
        clearTimeout(timer);
        reject(error);
      }
    });
    socket.write((Array.isArray(requests) ? requests : [requests]).join(''));
  });
}

/**
 * One request with node:http, or node:https for an https: URL (pass `ca`
 * for a self-signed server), on a fresh connection; the body as a Buffer.
 */
export function request(
  url: string,
  options: https.RequestOptions = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  const client = url.startsWith('https:') ? https : http;
  return new Promise((resolve, reject) => {
    const req = client.request(url, { agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/**
 * `curl -sS ...args`'s output, run without blocking the event loop (the
 * server under test is in this process). Rejects on a non-zero exit, with
 * curl's stderr.
 */
export function curl(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stderr: stderr.toString() }));
      else resolve(stdout);
    });
  });
}

/** One part of a 206 response: the range its Content-Range names and the bytes that came with it. */
export interface ReceivedPart {
  start: number;
  end: number;
  size: number;
  body: Buffer;
}

function parseContentRange(value: string | undefined): { start: number; end: number; size: number } {
  const m = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(value ?? '');
  if (!m) throw new Error(`not a Content-Range of satisfied bytes: ${JSON.stringify(value)}`);
  return { start: Number(m[1]), end: Number(m[2]), size: Number(m[3]) };
}

/**
 * The parts of a 206 response: one, from its Content-Range, or each part of
 * a multipart/byteranges body, parsed by its boundary. Throws when the
 * framing is not what RFC 9110 §14.6 describes.
 */
export function partsOf(response: { headers: Record<string, string>; body: Buffer }): ReceivedPart[] {
  const type = response.headers['content-type'] ?? '';
  const boundary = /^multipart\/byteranges; boundary=(\S+)$/.exec(type)?.[1];
  if (!boundary) return [{ ...parseContentRange(response.headers['content-range']), body: response.body }];
  const parts: ReceivedPart[] = [];
  const delimiter = Buffer.from(`--${boundary}`);
  let at = response.body.indexOf(delimiter);
  for (;;) {
    if (at === -1) throw new Error('multipart body without its closing delimiter');
    at += delimiter.length;
    if (response.body.subarray(at, at + 2).toString() === '--') return parts;
    const headEnd = response.body.indexOf('\r\n\r\n', at);
    const head = response.body.subarray(at, headEnd).toString('latin1');
    const range = parseContentRange(/Content-Range: (.*)/i.exec(head)?.[1]);
    const start = headEnd + 4;
    const body = response.body.subarray(start, start + range.end - range.start + 1);
    parts.push({ ...range, body });
    at = response.body.indexOf(delimiter, start + body.length);
  }
}
