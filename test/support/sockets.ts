// Loopback TCP in this process: servers that hand the test each accepted
// connection or record what each one receives, client sockets, reading a
// connection to its end, and the kernel's view of a connection (TCP_INFO
// through ss(8)) to check what went on the wire, not just what arrived.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

// ---------------------------------------------------------------- reading

/**
 * Everything a socket receives until its peer ends or closes it. Rejects
 * with the socket's error: for tests where the connection must not fail.
 */
export function readToEnd(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  return new Promise((resolve, reject) => {
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('end', () => resolve(Buffer.concat(chunks)));
    socket.on('close', () => resolve(Buffer.concat(chunks)));
    socket.on('error', reject);
  });
}

export interface Received {
  /** Everything the connection delivered, in order, up to its end or close. */
  data: Buffer;
  /** The error the connection ended with, if any (a reset, for example). */
  error?: Error;
}

/**
 * Everything a socket receives until its peer ends or closes it, and the
 * error it failed with, if any. Never rejects: for tests where the
 * connection may fail and what arrived before still counts.
 */
export function recordToEnd(socket: net.Socket): Promise<Received> {
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

// ---------------------------------------------------------------- servers

export interface TestServer {
  server: net.Server;
  port: number;
  /** Resolves with the next accepted connection (in accept order). */
  accepted(): Promise<net.Socket>;
  /** Destroys every connection it accepted, then stops listening. */
  close(): Promise<void>;
}

/**
 * A TCP server on 127.0.0.1 that hands each accepted connection to the test
 * (and to `onConnection`). With `pauseOnConnect`, a connection reads nothing
 * (not even Node's read-ahead) until the test resumes it.
 */
export async function startServer(onConnection?: (socket: net.Socket) => void, options: { pauseOnConnect?: boolean } = {}): Promise<TestServer> {
  const sockets: net.Socket[] = [];
  const waiting: ((s: net.Socket) => void)[] = [];
  const queued: net.Socket[] = [];
  const server = net.createServer(options, (socket) => {
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

export interface Collector {
  /** The TCP port; 0 for a Unix-domain collector. */
  port: number;
  /** Connects a client; `received` settles when the server side of that connection ends or closes; `peer` is that server side. */
  connect(): Promise<{ socket: net.Socket; received: Promise<Received>; peer: Promise<net.Socket> }>;
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

/**
 * A TCP (or TLS, with `tlsOptions`) server on 127.0.0.1 that records what
 * each connection receives, found by the client's local port; with `unix`,
 * a Unix-domain server on that path instead, whose connections are found
 * by the order they connect in (they have no ports). With `paused`, the
 * server side does not read until the test resumes it (see `serverSide`),
 * so a sender fills the socket buffers and waits.
 */
export async function startCollector(
  options: { paused?: boolean; tlsOptions?: tls.TlsOptions; tlsClient?: tls.ConnectionOptions; unix?: string } = {},
): Promise<Collector> {
  const results = new Map<number, Deferred<Received>>();
  const sides = new Map<number, Deferred<net.Socket>>();
  const entry = <T>(map: Map<number, Deferred<T>>, port: number) => {
    let d = map.get(port);
    if (!d) map.set(port, (d = deferred<T>()));
    return d;
  };
  const open = new Set<net.Socket>();
  // A Unix-domain listener accepts in the order clients connect.
  let accepted = 0;
  let connected = 0;
  const onConnection = (socket: net.Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    if (options.paused) socket.pause();
    const key = options.unix === undefined ? socket.remotePort! : accepted++;
    entry(results, key).resolve(recordToEnd(socket));
    entry(sides, key).resolve(socket);
  };
  const server = options.tlsOptions ? tls.createServer(options.tlsOptions, onConnection) : net.createServer(onConnection);
  if (options.tlsOptions) server.on('tlsClientError', () => {});
  if (options.unix === undefined) server.listen(0, '127.0.0.1');
  else server.listen(options.unix);
  await once(server, 'listening');
  const port = options.unix === undefined ? (server.address() as net.AddressInfo).port : 0;

  const connect = async () => {
    let socket: net.Socket;
    let key: number;
    if (options.tlsOptions) {
      socket = tls.connect({ port, host: '127.0.0.1', ...options.tlsClient });
      await once(socket, 'secureConnect');
      key = socket.localPort!;
    } else if (options.unix !== undefined) {
      key = connected++;
      socket = net.connect(options.unix);
      await once(socket, 'connect');
    } else {
      socket = net.connect(port, '127.0.0.1');
      await once(socket, 'connect');
      key = socket.localPort!;
    }
    return { socket, received: entry(results, key).promise, peer: entry(sides, key).promise };
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

// ---------------------------------------------------------------- clients

/** A client socket that has not finished connecting yet; its errors are recorded in `errors` rather than thrown. */
export function connecting(port: number, host = '127.0.0.1'): net.Socket & { errors: Error[] } {
  const socket = Object.assign(net.connect(port, host), { errors: [] as Error[] });
  socket.on('error', (e) => socket.errors.push(e));
  return socket;
}

/** A connected client socket; its errors are recorded in `errors` rather than thrown. Rejects if it cannot connect. */
export async function connect(port: number, host = '127.0.0.1'): Promise<net.Socket & { errors: Error[] }> {
  const socket = connecting(port, host);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return socket;
}

/** Resolves once the socket has closed (at once if it already has). */
export function closed(socket: net.Socket): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => socket.once('close', () => resolve()));
}

/** Ends the socket (our FIN) and waits until it has fully closed. */
export async function endAndClose(socket: net.Socket): Promise<void> {
  if (socket.destroyed) return;
  const ended = closed(socket);
  socket.end();
  await ended;
}

// ---------------------------------------------------------------- socket buffers

let socketBuffersHelper: string | undefined;

/**
 * Sets SO_SNDBUF and SO_RCVBUF of a connection, or of a listening server
 * (its connections accepted from then on inherit them), to `bytes`: with a
 * peer that does not read, a sender then stops after a few KiB, where
 * loopback's autotuned buffers take megabytes. Node has no call for it: a
 * small program (support/socket-buffers.c, built with cc) sets them on a
 * duplicate of the descriptor.
 */
export function setSocketBuffers(target: net.Socket | net.Server, bytes: number): void {
  const fd = (target as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (fd === undefined || fd < 0) throw new Error('setSocketBuffers: the socket has no descriptor (not connected or listening yet)');
  if (!socketBuffersHelper) {
    const out = join(__dirname, '..', '..', 'build-test');
    mkdirSync(out, { recursive: true });
    execFileSync('cc', ['-O2', '-o', join(out, 'socket-buffers'), join(__dirname, 'socket-buffers.c')]);
    socketBuffersHelper = join(out, 'socket-buffers');
  }
  execFileSync(socketBuffersHelper, [String(bytes)], { stdio: ['ignore', 'ignore', 'pipe', fd] });
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

/**
 * TCP_INFO of the established IPv4 loopback socket bound to `localPort`
 * (and connected to `remotePort`, when given: a server's port is shared by
 * all its connections), read with `ss -tin`. Rejects when there is no such
 * connection: it has closed, or was never established.
 */
export async function tcpInfo(localPort: number, remotePort?: number): Promise<TcpInfo> {
  const filter = ['src', `127.0.0.1:${localPort}`, ...(remotePort === undefined ? [] : ['dport', '=', `:${remotePort}`])];
  const { stdout } = await execFileAsync('ss', ['-tinH', 'state', 'established', ...filter]);
  if (!stdout.trim()) throw new Error(`ss: no established socket on 127.0.0.1:${localPort}${remotePort === undefined ? '' : ` to port ${remotePort}`}`);
  // Counters that are zero are left out of ss's output.
  const field = (name: string) => Number(new RegExp(`\\b${name}:(\\d+)`).exec(stdout)?.[1] ?? 0);
  return {
    dataSegsOut: field('data_segs_out'),
    segsOut: field('segs_out'),
    bytesSent: field('bytes_sent'),
    notsent: field('notsent'),
  };
}
