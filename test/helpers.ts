// Shared helpers for the transfer tests: reproducible random data, temporary
// files, a loopback server that records exactly what each connection
// receives, descriptor counting and child processes. Nothing here mocks the
// library or the system: every helper uses real files, sockets and processes.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createCipheriv, createHash } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { once } from 'node:events';
import * as net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { promisify } from 'node:util';
import { expect } from 'vitest';

export const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------------------
// Reproducible randomness

/** The seed for this run: ZEROCOPY_TEST_SEED when set, a fresh one otherwise. */
export function pickSeed(): number {
  const fromEnv = process.env.ZEROCOPY_TEST_SEED;
  if (fromEnv !== undefined && fromEnv !== '') {
    const n = Number(fromEnv);
    if (!Number.isInteger(n) || n < 0 || n > 0xffffffff) throw new Error(`bad ZEROCOPY_TEST_SEED ${fromEnv}`);
    return n;
  }
  return (Math.random() * 0x100000000) >>> 0;
}

export interface Rng {
  /** A float in [0, 1). */
  next(): number;
  /** An integer in [min, max] (inclusive). */
  int(min: number, max: number): number;
  bool(p?: number): boolean;
  pick<T>(items: readonly T[]): T;
  /** `n` pseudo-random bytes that depend only on the generator's state. */
  bytes(n: number): Buffer;
}

/** mulberry32: small, fast and good enough to choose test parameters. */
export function makeRng(seed: number): Rng {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const rng: Rng = {
    next,
    int: (min, max) => min + Math.floor(next() * (max - min + 1)),
    bool: (p = 0.5) => next() < p,
    pick: (items) => items[Math.floor(next() * items.length)],
    bytes: (n) => seededBytes(`${Math.floor(next() * 2 ** 32)}`, n),
  };
  return rng;
}

/** Deterministic pseudo-random bytes for a label (AES-CTR keystream: fast for many MiB). */
export function seededBytes(label: string | number, n: number): Buffer {
  const key = createHash('sha256').update(String(label)).digest();
  const cipher = createCipheriv('aes-256-ctr', key, Buffer.alloc(16));
  const out = cipher.update(Buffer.alloc(n));
  cipher.final();
  return out;
}

// ---------------------------------------------------------------------------
// Temporary files

export interface TempDir {
  path: string;
  /** A new path inside the directory (not created). */
  file(name?: string): string;
  /** Writes `content` to a new file and returns its path. */
  write(content: Buffer | string, name?: string): string;
  remove(): void;
}

let tempCounter = 0;

export function makeTempDir(prefix = 'zerocopy-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const file = (name?: string) => join(path, name ?? `f${++tempCounter}`);
  return {
    path,
    file,
    write(content, name) {
      const p = file(name);
      writeFileSync(p, content);
      return p;
    },
    remove() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------
// Loopback receivers

export interface Received {
  /** Everything the connection delivered, in order, up to its end or close. */
  data: Buffer;
  /** The error the connection ended with, if any (a reset, for example). */
  error?: Error;
}

export interface Collector {
  port: number;
  /** Connects a client; `received` settles when the server side of that connection ends or closes. */
  connect(): Promise<{ socket: net.Socket; received: Promise<Received> }>;
  /** What the connection whose client end uses local port `port` receives. */
  receivedFrom(port: number): Promise<Received>;
  /** The server side of the connection from local port `port`, once accepted. */
  serverSide(port: number): Promise<net.Socket>;
  close(): Promise<void>;
}

interface Deferred<T> {
  promise: Promise<T>;
  resolve(value: T | PromiseLike<T>): void;
}

function deferred<T>(): Deferred<T> {
  let resolve!: (value: T | PromiseLike<T>) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

/** Reads a connection to its end, keeping every byte. */
export function collect(socket: net.Socket): Promise<Received> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: Error | undefined;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      resolve({ data: Buffer.concat(chunks), error });
    };
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e) => (error = e));
    socket.on('end', finish);
    socket.on('close', finish);
  });
}

/**
 * A TCP (or TLS, with `tlsOptions`) server on 127.0.0.1 that records what
 * each connection receives. With `paused`, the server side does not read
 * until the test resumes it (see `serverSide`), so a sender fills the socket
 * buffers and waits.
 */
export async function startCollector(
  options: { paused?: boolean; tlsOptions?: tls.TlsOptions; tlsClient?: tls.ConnectionOptions } = {},
): Promise<Collector> {
  const results = new Map<number, Deferred<Received>>();
  const sides = new Map<number, Deferred<net.Socket>>();
  const entry = <T>(map: Map<number, Deferred<T>>, port: number) => {
    let d = map.get(port);
    if (!d) map.set(port, (d = deferred<T>()));
    return d;
  };
  const open = new Set<net.Socket>();
  const onConnection = (socket: net.Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    if (options.paused) socket.pause();
    const port = socket.remotePort!;
    entry(results, port).resolve(collect(socket));
    entry(sides, port).resolve(socket);
  };
  const server = options.tlsOptions
    ? tls.createServer(options.tlsOptions, onConnection)
    : net.createServer(onConnection);
  if (options.tlsOptions) server.on('tlsClientError', () => {});
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const port = (server.address() as net.AddressInfo).port;

  const connect = async () => {
    let socket: net.Socket;
    if (options.tlsOptions) {
      socket = tls.connect({ port, host: '127.0.0.1', ...options.tlsClient });
      await once(socket, 'secureConnect');
    } else {
      socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
    }
    return { socket, received: entry(results, socket.localPort!).promise };
  };
  return {
    port,
    connect,
    receivedFrom: (p) => entry(results, p).promise,
    serverSide: (p) => entry(sides, p).promise,
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

// ---------------------------------------------------------------------------
// Descriptors

/** This process's open descriptors and what they point at. */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      fds.set(Number(name), readlinkSync(`/proc/self/fd/${name}`));
    } catch {
      // closed between readdir and readlink (often the readdir's own descriptor)
    }
  }
  return fds;
}

/** A descriptor's status flags (O_NONBLOCK, O_APPEND, ...), from /proc/self/fdinfo. */
export function fdFlags(fd: number): number {
  const m = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^flags:\s+([0-7]+)$/m);
  if (!m) throw new Error(`no flags in /proc/self/fdinfo/${fd}`);
  return parseInt(m[1], 8);
}

/**
 * A descriptor number that is not open, well above every open one so that
 * nothing opens it while a test runs (a just-closed number can be reused by
 * any concurrent open in the process).
 */
export function closedFd(): number {
  return Math.max(...openFds().keys()) + 64;
}

/** Descriptors open now that were not open in `before`, described. */
export function newFds(before: Map<number, string>): string[] {
  const now = openFds();
  return [...now].filter(([fd, target]) => before.get(fd) !== target).map(([fd, target]) => `${fd} -> ${target}`);
}

// ---------------------------------------------------------------------------
// Errors

/** Awaits a rejection and checks its class and code; returns the error for further checks. */
export async function rejection<E extends Error = Error & { code?: string; syscall?: string; bytesSent?: number; errno?: number }>(
  promise: Promise<unknown>,
  expected: { class?: new (...args: never[]) => Error; code?: string; name?: string },
): Promise<E & { code?: string; syscall?: string; bytesSent?: number; errno?: number }> {
  let error: unknown;
  try {
    const value = await promise;
    throw Object.assign(new Error(`expected a rejection (${JSON.stringify(expected.code ?? expected.name)}), got ${String(JSON.stringify(value))}`), {
      notRejected: true,
    });
  } catch (e) {
    if ((e as { notRejected?: boolean }).notRejected) throw e;
    error = e;
  }
  if (expected.class) expect(error).toBeInstanceOf(expected.class);
  if (expected.code !== undefined) expect((error as { code?: string }).code, String(error)).toBe(expected.code);
  if (expected.name !== undefined) expect((error as Error).name, String(error)).toBe(expected.name);
  return error as E & { code?: string; syscall?: string; bytesSent?: number; errno?: number };
}

// ---------------------------------------------------------------------------
// Child processes

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Collects a child's output and waits for it to exit. */
export function exited(child: ChildProcess): Promise<Exited> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `node -e script` with extra environment; resolves when it exits. */
export function runNode(script: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<Exited> {
  const child = spawn(process.execPath, ['-e', script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return exited(child);
}

/** Waits for a line on a child's stdout that matches `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer | string) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        const m = line.match(pattern);
        if (m) {
          child.stdout!.off('data', onData);
          return resolve(m);
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing ${pattern}`)));
  });
}

/** Whether a program is on PATH, without installing anything. */
export async function which(program: string): Promise<string | undefined> {
  try {
    const { stdout } = await execFileAsync('sh', ['-c', `command -v ${program}`]);
    return stdout.trim() || undefined;
  } catch {
    return undefined;
  }
}

/**
 * A self-signed certificate for "localhost", made now with the openssl
 * command line tool. Fails with a clear message when openssl is missing.
 */
export async function selfSignedCert(dir: TempDir): Promise<{ key: Buffer; cert: Buffer }> {
  const openssl = await which('openssl');
  if (!openssl) {
    throw new Error('The TLS tests need the `openssl` command line tool to make a certificate, and it is not on PATH. Install OpenSSL and run them again.');
  }
  const keyPath = dir.file('key.pem');
  const certPath = dir.file('cert.pem');
  await execFileAsync(openssl, [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', keyPath, '-out', certPath, '-days', '1', '-subj', '/CN=localhost',
    '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1',
  ]);
  return { key: readFileSync(keyPath), cert: readFileSync(certPath) };
}

// ---------------------------------------------------------------------------
// Misc

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Ends the socket and waits until it has fully closed. */
export async function endAndClose(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return;
  const closed = once(socket, 'close');
  socket.end();
  await closed;
}

/** Describes where two buffers first differ, for failure messages that stay short. */
export function firstDifference(actual: Buffer, expected: Buffer): string {
  const n = Math.min(actual.length, expected.length);
  for (let i = 0; i < n; i++) {
    if (actual[i] !== expected[i]) {
      return `first difference at byte ${i} of ${expected.length} (got ${actual.subarray(i, i + 8).toString('hex')}, want ${expected.subarray(i, i + 8).toString('hex')})`;
    }
  }
  return actual.length === expected.length ? 'identical' : `lengths differ: got ${actual.length}, want ${expected.length}`;
}

/** Asserts byte-for-byte equality without dumping megabytes into the report. */
export function expectBytes(actual: Buffer, expected: Buffer, what = 'bytes'): void {
  if (!actual.equals(expected)) {
    expect.fail(`${what}: ${firstDifference(actual, expected)}`);
  }
}
