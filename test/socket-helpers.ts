// Helpers for the socket tests: real loopback TCP, real files, a real peer
// process, and the checks (descriptors, TCP segments, event-loop lateness)
// that turn what a user relies on into assertions.
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, randomFillSync, type Hash } from 'node:crypto';
import { mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------- files

export interface TestFile {
  path: string;
  data: Buffer;
}

export function tempDir(): { dir: string; cleanup(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'zerocopy-socket-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A file of `size` random bytes: any reordering or loss shows in a comparison. */
export function makeFile(dir: string, name: string, size: number): TestFile {
  const data = randomFillSync(Buffer.allocUnsafe(size));
  const path = join(dir, name);
  writeFileSync(path, data);
  return { path, data };
}

export function sha256(...parts: (Buffer | string)[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash.digest('hex');
}

/** A hash that has seen `parts`; copy() it to finish several different endings cheaply. */
export function hashOf(...parts: (Buffer | string)[]): Hash {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part);
  return hash;
}

// ---------------------------------------------------------------- descriptors

/** This process's open descriptors: number -> what it points at. */
export function openFds(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${name}`);
      // The directory handle readdir itself used.
      if (/^\/proc\/\d+\/fd$/.test(target)) continue;
      fds.set(Number(name), target);
    } catch {
      // Closed between the listing and the readlink.
    }
  }
  return fds;
}

/**
 * Waits (closes can lag a tick behind the promise that reports them) until
 * every descriptor opened since `before` is closed again, and fails with
 * the list of the ones that are not.
 */
export async function expectNoFdLeak(before: Map<number, string>, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const extra = [...openFds()].filter(([fd, target]) => before.get(fd) !== target);
    if (extra.length === 0) return;
    if (Date.now() > deadline) {
      throw new Error(`descriptors leaked: ${extra.map(([fd, target]) => `${fd} -> ${target}`).join(', ')}`);
    }
    await sleep(25);
  }
}

// ---------------------------------------------------------------- timing

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Rejects with a message naming `what` if `promise` has not settled in `ms`. */
export function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

export type Settled<T> = { ok: true; value: T } | { ok: false; error: any };

/** Settles without throwing, and remembers when it settled. */
export function track<T>(promise: Promise<T>): { result: Promise<Settled<T>>; settled: () => boolean } {
  let done = false;
  const result = promise.then(
    (value) => ({ ok: true as const, value }),
    (error) => ({ ok: false as const, error }),
  );
  void result.then(() => (done = true));
  return { result, settled: () => done };
}

/** Runs a setTimeout(intervalMs) chain and reports how late its timers fired. */
export function watchEventLoop(intervalMs = 10): { stop(): { maxLatenessMs: number; ticks: number } } {
  let maxLatenessMs = 0;
  let ticks = 0;
  let expected = performance.now() + intervalMs;
  let timer: NodeJS.Timeout;
  const tick = () => {
    const now = performance.now();
    maxLatenessMs = Math.max(maxLatenessMs, now - expected);
    ticks++;
    expected = now + intervalMs;
    timer = setTimeout(tick, intervalMs);
  };
  timer = setTimeout(tick, intervalMs);
  return {
    stop() {
      clearTimeout(timer);
      // A timer still pending counts too: it is late by now if it is late.
      maxLatenessMs = Math.max(maxLatenessMs, performance.now() - expected);
      return { maxLatenessMs, ticks };
    },
  };
}

// ---------------------------------------------------------------- in-process sockets

export interface TestServer {
  server: net.Server;
  port: number;
  /** Resolves with the next accepted connection (in accept order). */
  accepted(): Promise<net.Socket>;
  close(): Promise<void>;
}

export async function startServer(onConnection?: (socket: net.Socket) => void): Promise<TestServer> {
  const sockets: net.Socket[] = [];
  const waiting: ((s: net.Socket) => void)[] = [];
  const queued: net.Socket[] = [];
  const server = net.createServer((socket) => {
    socket.on('error', () => {});
    sockets.push(socket);
    onConnection?.(socket);
    const waiter = waiting.shift();
    if (waiter) waiter(socket);
    else queued.push(socket);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    server,
    port: (server.address() as net.AddressInfo).port,
    accepted: () => {
      const socket = queued.shift();
      return socket ? Promise.resolve(socket) : new Promise((resolve) => waiting.push(resolve));
    },
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Everything a socket receives until its peer ends it. */
export function collect(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

/** A connected client socket; its errors are recorded rather than thrown. */
export async function connect(port: number, host = '127.0.0.1'): Promise<net.Socket & { errors: Error[] }> {
  const socket = connecting(port, host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** A client socket that has not finished connecting yet. */
export function connecting(port: number, host = '127.0.0.1'): net.Socket & { errors: Error[] } {
  const socket = Object.assign(net.connect(port, host), { errors: [] as Error[] });
  socket.on('error', (e) => socket.errors.push(e));
  return socket;
}

export function closed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

// ---------------------------------------------------------------- TCP_INFO via ss(8)

export interface TcpInfo {
  dataSegsOut: number;
  segsOut: number;
  bytesSent: number;
  /** Bytes written by the application but not yet sent (tcpi_notsent_bytes). */
  notsent: number;
}

/** Whether ss(8) (iproute2) is here and understands the filters tcpInfo uses. */
export function hasSs(): boolean {
  return spawnSync('ss', ['-tinH', 'state', 'established', 'src', '127.0.0.1:1']).status === 0;
}

/** TCP_INFO of the established IPv4 loopback socket bound to `localPort`, read with `ss -tin`. */
export async function tcpInfo(localPort: number): Promise<TcpInfo> {
  const { stdout } = await execFileAsync('ss', ['-tinH', 'state', 'established', 'src', `127.0.0.1:${localPort}`]);
  if (!stdout.trim()) throw new Error(`ss: no established socket on 127.0.0.1:${localPort}`);
  // Counters that are zero are left out of ss's output.
  const field = (name: string) => Number(new RegExp(`\\b${name}:(\\d+)`).exec(stdout)?.[1] ?? 0);
  return {
    dataSegsOut: field('data_segs_out'),
    segsOut: field('segs_out'),
    bytesSent: field('bytes_sent'),
    notsent: field('notsent'),
  };
}

// ---------------------------------------------------------------- a peer in a child process

/** How the peer treats a connection. */
export type PeerMode =
  | { mode: 'sink' } // reads everything
  | { mode: 'paused' } // reads nothing (beyond Node's own small read-ahead) until told
  | { mode: 'reset'; after: number } // reads `after` bytes, then resets (SO_LINGER 0)
  | { mode: 'destroy'; after: number } // reads `after` bytes, then closes with data unread
  | { mode: 'slow'; rate: number }; // reads about `rate` bytes per second

export interface PeerEvent {
  event: 'listening' | 'connection' | 'end' | 'close' | 'error' | 'reset' | 'destroy';
  id?: number;
  port?: number;
  remotePort?: number;
  bytes?: number;
  sha256?: string;
  /** The first 64 bytes received, latin1. */
  head?: string;
  ended?: boolean;
  code?: string;
  at: number;
}

const PEER_SCRIPT = String.raw`
'use strict';
const net = require('node:net');
const crypto = require('node:crypto');
const readline = require('node:readline');
let defaults = JSON.parse(process.argv[1]);
const out = (o) => process.stdout.write(JSON.stringify(o) + '\n');
const conns = new Map();
let nextId = 0;
function setMode(c, m) {
  c.mode = m;
  clearInterval(c.timer);
  if (m.mode === 'paused') {
    c.socket.pause();
  } else if (m.mode === 'slow') {
    const tick = 20;
    c.allowed = c.bytes;
    c.socket.pause();
    c.timer = setInterval(() => {
      c.allowed += (m.rate * tick) / 1000;
      if (c.bytes < c.allowed && c.socket.isPaused()) c.socket.resume();
    }, tick);
  } else {
    c.socket.resume();
  }
}
const server = net.createServer((socket) => {
  const c = { id: nextId++, socket, bytes: 0, hash: crypto.createHash('sha256'), head: Buffer.alloc(0), ended: false, acted: false };
  conns.set(c.id, c);
  socket.on('error', (e) => out({ event: 'error', id: c.id, code: e.code }));
  socket.on('data', (d) => {
    c.bytes += d.length;
    c.hash.update(d);
    if (c.head.length < 64) c.head = Buffer.concat([c.head, d.subarray(0, 64 - c.head.length)]);
    const m = c.mode;
    if ((m.mode === 'reset' || m.mode === 'destroy') && !c.acted && c.bytes >= m.after) {
      c.acted = true;
      out({ event: m.mode, id: c.id, bytes: c.bytes });
      if (m.mode === 'reset') socket.resetAndDestroy();
      else socket.destroy();
    } else if (m.mode === 'slow' && c.bytes >= c.allowed) {
      socket.pause();
    }
  });
  socket.on('end', () => {
    c.ended = true;
    out({ event: 'end', id: c.id, bytes: c.bytes, sha256: c.hash.digest('hex'), head: c.head.toString('latin1') });
    socket.end();
  });
  socket.on('close', () => {
    clearInterval(c.timer);
    conns.delete(c.id);
    out({ event: 'close', id: c.id, bytes: c.bytes, ended: c.ended });
  });
  setMode(c, { ...defaults });
  out({ event: 'connection', id: c.id, remotePort: socket.remotePort });
});
server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => out({ event: 'listening', port: server.address().port }));
readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const cmd = JSON.parse(line);
  if (cmd.cmd === 'mode') {
    for (const c of conns.values()) if (cmd.id === undefined || cmd.id === c.id) setMode(c, cmd.mode);
  } else if (cmd.cmd === 'defaults') {
    defaults = cmd.mode;
  }
});
// The test closes our stdin to stop us.
process.stdin.on('end', () => process.exit(0));
`;

/**
 * A TCP peer in its own process, driven over stdin/stdout: it reports
 * every connection, what it received (length and SHA-256) and when the
 * connection ended or closed.
 */
export class PeerProcess {
  readonly events: PeerEvent[] = [];
  port = 0;
  private readonly waiters = new Set<() => void>();
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.events.push({ ...JSON.parse(line), at: performance.now() });
      for (const w of [...this.waiters]) w();
    });
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
  }

  static async start(defaults: PeerMode = { mode: 'sink' }): Promise<PeerProcess> {
    const child = spawn(process.execPath, ['-e', PEER_SCRIPT, JSON.stringify(defaults)], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    const peer = new PeerProcess(child);
    peer.port = (await peer.waitFor((e) => e.event === 'listening', 10_000, 'peer listening')).port!;
    return peer;
  }

  /** The first event (already seen or still to come) that matches. */
  waitFor(match: (e: PeerEvent) => boolean, timeoutMs = 5000, what = 'peer event'): Promise<PeerEvent> {
    let check!: () => void;
    const found = new Promise<PeerEvent>((resolve) => {
      check = () => {
        const event = this.events.find(match);
        if (event) resolve(event);
      };
      this.waiters.add(check);
      check();
    });
    return within(found, timeoutMs, what).finally(() => this.waiters.delete(check));
  }

  /** The peer's id for the connection whose client side is bound to `localPort`. */
  async idOf(localPort: number): Promise<number> {
    return (await this.waitFor((e) => e.event === 'connection' && e.remotePort === localPort, 5000, 'peer accept')).id!;
  }

  setMode(mode: PeerMode, id?: number): void {
    this.child.stdin!.write(JSON.stringify({ cmd: 'mode', mode, id }) + '\n');
  }

  setDefaults(mode: PeerMode): void {
    this.child.stdin!.write(JSON.stringify({ cmd: 'defaults', mode }) + '\n');
  }

  async stop(): Promise<void> {
    this.waiters.clear();
    this.child.stdin!.end();
    await within(this.exited, 5000, 'peer exit').catch(() => this.child.kill('SIGKILL'));
    await this.exited;
  }
}
