// Shared pieces of the serve tests: fixture files, servers on loopback that
// clean up after themselves, a raw HTTP/1.1 client that shows exact bytes,
// and views of the process's descriptors and the kernel's segment counts.
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, mkdirSync, truncateSync } from 'node:fs';
import * as http from 'node:http';
import { connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Fixtures {
  dir: string;
  /** 1 KiB of text. */
  small: Buffer;
  /** 300 000 random bytes. */
  data: Buffer;
  /** Path of a 64 MiB file of zeros (sparse). */
  bigPath: string;
  bigSize: number;
  cleanup(): void;
}

export function makeFixtures(): Fixtures {
  const dir = mkdtempSync(join(tmpdir(), 'zerocopy-serve-'));
  const small = Buffer.from('0123456789abcdef'.repeat(64));
  const data = randomBytes(300_000);
  writeFileSync(join(dir, 'small.txt'), small);
  writeFileSync(join(dir, 'data.bin'), data);
  writeFileSync(join(dir, 'empty.txt'), '');
  writeFileSync(join(dir, 'page.html'), '<!doctype html><title>page</title>\n');
  writeFileSync(join(dir, 'style.css'), 'body { color: red }\n');
  writeFileSync(join(dir, 'noext'), 'no extension\n');
  mkdirSync(join(dir, 'docs'));
  writeFileSync(join(dir, 'docs', 'index.html'), '<!doctype html><title>docs</title>\n');
  writeFileSync(join(dir, 'docs', 'guide.txt'), 'the guide\n');
  mkdirSync(join(dir, 'empty-dir'));
  const bigPath = join(dir, 'big.bin');
  const bigSize = 64 * 1024 * 1024;
  writeFileSync(bigPath, '');
  truncateSync(bigPath, bigSize);
  return { dir, small, data, bigPath, bigSize, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export interface Running {
  port: number;
  url: string;
  server: Server;
  close(): Promise<void>;
}

/** Listens on 127.0.0.1; close() destroys every connection it still has. */
export function listen(server: Server, scheme = 'http'): Promise<Running> {
  const sockets = new Set<Socket>();
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  // HTTP/2 sessions and TLS sockets arrive through 'secureConnection'/'session'.
  server.on('secureConnection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
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

export function httpServer(handler: http.RequestListener): Promise<Running> {
  return listen(http.createServer(handler));
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
 * Returns the responses and the bytes left over.
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

/**
 * Sends `requests` (raw request text, all at once: pipelined when there are
 * several) on one connection and collects `expect` responses; then closes
 * the connection, or with `untilClose` waits for the server to close it.
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

/** Waits until the server has no connection left. */
export function drained(server: Server): Promise<void> {
  const count = () => new Promise<number>((resolve) => server.getConnections((_e, n) => resolve(n)));
  return eventually(async () => (await count()) === 0, 'the server to have no connections');
}

export function get(path: string, headers: Record<string, string> = {}, method = 'GET'): string {
  return `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
}

/** One request with node:http (a fresh connection each time); the body as a Buffer. */
export function request(
  url: string,
  options: http.RequestOptions = {},
): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Open descriptors of this process. */
export function openDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Waits until `check` returns true (polling), or fails with `message`. */
export async function eventually(check: () => boolean | Promise<boolean>, message: string, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting: ${message}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function hasCommand(name: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** `curl` without blocking the event loop (the server is in this process). */
export function curl(args: string[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    execFile('curl', ['-sS', ...args], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 }, (error, stdout, stderr) => {
      if (error) reject(Object.assign(error, { stderr: stderr.toString() }));
      else resolve(stdout);
    });
  });
}

/**
 * The kernel's count of data segments sent by the server side of the
 * connection whose peer port is `clientPort` (ss -tin's data_segs_out; absent
 * means none).
 */
export function serverDataSegments(serverPort: number, clientPort: number): Promise<number> {
  return new Promise((resolve, reject) => {
    execFile('ss', ['-tinH', 'state', 'established', `( sport = :${serverPort} and dport = :${clientPort} )`], (error, stdout) => {
      if (error) return reject(error);
      if (!stdout.includes(`:${clientPort}`)) return reject(new Error(`no such connection in ss output: ${stdout}`));
      const match = /data_segs_out:(\d+)/.exec(stdout);
      resolve(match ? Number(match[1]) : 0);
    });
  });
}

/** A self-signed certificate for 127.0.0.1/localhost, made by openssl in `dir`. */
export function makeCertificate(dir: string): { key: Buffer; cert: Buffer } {
  const key = join(dir, 'tls.key');
  const cert = join(dir, 'tls.crt');
  execFileSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ], { stdio: 'ignore' });
  return { key: readFileSync(key), cert: readFileSync(cert) };
}
