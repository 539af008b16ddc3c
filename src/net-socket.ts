// Everything sendFile relies on inside a net.Socket, in one place, as
// http/http1.ts fences node:http's internals. What this relies on
// (lib/net.js, lib/_tls_wrap.js and lib/internal/streams, the same from
// Node 20 to 26, which test/socket.test.ts passes on):
// - `socket._handle.fd` is the connection's descriptor while the socket is
//   alive. destroy() closes it at once, and the next connection may be given
//   the same number: read it only in the tick that uses it.
// - A TLS socket's `_handle.fd` is the raw TCP descriptor under the
//   encryption (`socket.encrypted` says so): writing there would bypass TLS.
// - `socket._unrefTimer()` restarts the idle timeout, as Node's own writes do.
// - `socket.errored` holds the error a socket was destroyed with: a reset
//   peer's ECONNRESET, or (Node 22 and later) ECANCELED for writes that a
//   plain destroy() cut off.
// - Writable's `_write`/`_writev` are called in queue order, one batch at a
//   time, and `socket.connecting` is true until the descriptor is connected.
// - `writableLength` counts every byte written whose callback has not run,
//   bytes libuv still holds included: 0 means the kernel has all of them.
//
// The write-queue hook: a transfer takes its place in the socket's own write
// queue, so that it keeps its place among the caller's writes: what was
// written before goes out first, and writes and end() made while it runs
// wait for it, as they would for any pending write. The queue entry is an
// empty buffer that the socket's _write/_writev recognise; everything else
// passes through unchanged.
import type { Socket } from 'node:net';
import { streamDestroyed, systemError, type TransferError } from './errors.js';

type Next = (error?: Error | null) => void;
type Entry = { chunk: unknown; encoding?: string };
type WriteFn = (this: Socket, chunk: unknown, encoding: string, cb: Next) => void;
type WritevFn = (this: Socket, entries: Entry[], cb: Next) => void;
interface Writable {
  _write: WriteFn;
  _writev?: WritevFn;
}

/** Writes straight to the socket's handle, past its queue: for use by the transfer that holds the queue. */
export interface RawWriter {
  write(chunks: Buffer[], cb: Next): void;
}

const jobs = new WeakMap<object, (next: Next) => void>();
const writers = new WeakMap<Socket, RawWriter>();

/**
 * Runs a job once the socket is connected, as Node does with its own
 * writes: a socket still connecting has no descriptor (or one not yet
 * connected) for the transfer to use.
 */
function runJob(socket: Socket, job: (next: Next) => void, cb: Next): void {
  if (!socket.connecting) return job(cb);
  const onConnect = () => {
    socket.removeListener('close', onClose);
    job(cb);
  };
  const onClose = () => {
    socket.removeListener('connect', onConnect);
    const cause = (socket as { errored?: Error | null }).errored;
    cb(cause ?? Object.assign(new Error('Socket closed before the connection was established'), { code: 'ERR_SOCKET_CLOSED_BEFORE_CONNECTION' }));
  };
  socket.once('connect', onConnect);
  socket.once('close', onClose);
}

function install(socket: Socket): RawWriter {
  const existing = writers.get(socket);
  if (existing) return existing;
  const s = socket as unknown as Writable;
  const write = s._write;
  const writev = s._writev;

  s._write = function (chunk, encoding, cb) {
    const job = jobs.get(chunk as object);
    if (job) return runJob(this, job, cb);
    write.call(this, chunk, encoding, cb);
  };
  if (writev) {
    s._writev = function (entries, cb) {
      if (!entries.some((e) => jobs.has(e.chunk as object))) return writev.call(this, entries, cb);
      // A batch that holds a transfer: plain runs go out as batches, the
      // transfer in its place between them.
      let i = 0;
      const next: Next = (error) => {
        if (error) return cb(error);
        if (i === entries.length) return cb();
        const job = jobs.get(entries[i].chunk as object);
        if (job) {
          i++;
          return runJob(this, job, next);
        }
        const start = i;
        while (i < entries.length && !jobs.has(entries[i].chunk as object)) i++;
        writev.call(this, entries.slice(start, i), next);
      };
      next();
    };
  }
  const raw: RawWriter = {
    write(chunks, cb) {
      if (chunks.length === 1 || !writev) {
        write.call(socket, chunks.length === 1 ? chunks[0] : Buffer.concat(chunks), 'buffer', cb);
      } else {
        writev.call(socket, chunks.map((chunk) => ({ chunk, encoding: 'buffer' })), cb);
      }
    },
  };
  writers.set(socket, raw);
  return raw;
}

/**
 * Runs `run` when every write queued on `socket` before this call has been
 * handed to the kernel, and holds later writes until it settles. Rejects
 * without running when the socket is closed first.
 */
export function enqueue<T>(socket: Socket, run: (raw: RawWriter) => Promise<T>): Promise<T> {
  const raw = install(socket);
  return new Promise<T>((resolve, reject) => {
    const token = Buffer.alloc(0);
    let started = false;
    jobs.set(token, (next) => {
      jobs.delete(token);
      started = true;
      run(raw).then(
        (value) => {
          resolve(value);
          next();
        },
        (error) => {
          reject(error);
          next();
        },
      );
    });
    socket.write(token, (error) => {
      if (error && !started) {
        jobs.delete(token);
        reject(error);
      }
    });
  });
}

/**
 * The socket's descriptor, to be used in this tick only, or undefined where
 * only the stream backend may write (TLS, no handle). Throws the socket's
 * closed error when it is destroyed: its number may already be another
 * connection's.
 */
export function socketFd(socket: Socket): number | undefined {
  if (socket.destroyed) throw closedError(socket, 0);
  if ((socket as { encrypted?: boolean }).encrypted) return undefined;
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

export function isTls(socket: Socket): boolean {
  return (socket as { encrypted?: boolean }).encrypted === true;
}

/** Counts a transfer's progress as activity for the socket's idle timeout. */
export function refreshIdleTimer(socket: Socket): void {
  (socket as unknown as { _unrefTimer?: () => void })._unrefTimer?.();
}

/** Why a socket closed under a transfer: its own error (a reset peer, say) if it had one. */
export function closedError(socket: Socket, bytesSent: number): TransferError {
  const cause = (socket as { errored?: NodeJS.ErrnoException | null }).errored;
  // ECANCELED is Node's word (22 and later) for writes that destroy() cut off: the destroy is the cause.
  if (cause?.errno && cause.syscall && cause.code !== 'ECANCELED') return systemError(-cause.errno, cause.syscall, bytesSent);
  return streamDestroyed(bytesSent);
}

/** Whether a transfer started now would be next on the wire: nothing written before it is still on its way. */
export function nothingQueued(socket: Socket): boolean {
  return !socket.connecting && !socket.destroyed && !socket.writableEnded && socket.writableLength === 0 && socket.writableCorked === 0;
}

/** Whether the socket is TCP (IPv4 or IPv6), whose segments headers can share with the file, or another stream socket. */
export function isTcp(socket: Socket): boolean {
  const family = socket.remoteFamily;
  return family === 'IPv4' || family === 'IPv6';
}

/** Resolves once a socket still connecting has connected; rejects with its closed error when it closes first. */
export function connected(socket: Socket): Promise<void> {
  if (!socket.connecting) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onConnect = () => {
      socket.removeListener('close', onClose);
      resolve();
    };
    const onClose = () => {
      socket.removeListener('connect', onConnect);
      reject(closedError(socket, 0));
    };
    socket.once('connect', onConnect);
    socket.once('close', onClose);
  });
}

// ---------------------------------------------------------------- the read side
//
// receiveFile and relay read a socket's descriptor themselves, so Node must
// read nothing meanwhile. What this relies on (lib/net.js,
// lib/internal/stream_base_commons.js, lib/_http_server.js, the same from
// Node 20 to 26):
// - Every start of reading in JavaScript goes through `_handle.readStart()`
//   (Socket's _read, node:http's onSocketResume), after setting
//   `_handle.reading`; `_handle.readStop()` stops libuv reading at once, and
//   nothing read before is delivered later: a read's bytes reach JavaScript
//   (or node:http's parser) in the read's own callback.
// - `_handle.reading` is what Node believes: whether it wants the handle
//   reading. Given back, a socket reads again if Node wanted it to.

type ReadHandle = { readStart(): number; readStop(): number; reading?: boolean };

/** A socket's read side, taken from Node: it reads nothing until given back. */
export interface ReadSide {
  /** Gives the socket back to Node, which reads again if it wanted to, and flows again if it was flowing. */
  giveBack(): void;
}

/**
 * Stops Node reading `socket` until giveBack(): its handle stops reading,
 * and any attempt to start it again (a read(), a resume(), node:http
 * asking for the next request) is held back. Bytes Node had read already
 * stay in the socket's readable buffer: see takeBuffered.
 */
export function takeReadSide(socket: Socket): ReadSide {
  const handle = (socket as unknown as { _handle: ReadHandle })._handle;
  // Paused only if it flows: a socket paused explicitly would no longer
  // start flowing when given a 'data' listener.
  const flowing = socket.readableFlowing === true;
  if (flowing) socket.pause();
  handle.readStop();
  const own = Object.hasOwn(handle, 'readStart');
  const readStart = handle.readStart;
  handle.readStart = () => 0;
  return {
    giveBack() {
      if (own) handle.readStart = readStart;
      else delete (handle as Partial<ReadHandle>).readStart;
      if (handle.reading && !socket.destroyed) handle.readStart();
      if (flowing) socket.resume();
    },
  };
}

/**
 * Takes the bytes waiting in a readable stream's buffer (Node read them,
 * nobody has seen them), all of them or the first `chunks` reads' worth,
 * without emitting 'data' for them: they are the taker's now. The stream
 * must not be in object mode.
 */
export function takeBuffered(stream: NodeJS.ReadableStream, chunks = Infinity): Buffer[] {
  const taken: Buffer[] = [];
  if ((stream as { readableLength?: number }).readableLength === 0) return taken;
  const own = Object.hasOwn(stream, 'emit');
  const emit = stream.emit;
  stream.emit = function (this: unknown, event: string | symbol, ...args: unknown[]) {
    return event === 'data' ? false : emit.call(this, event, ...args);
  };
  try {
    for (let chunk; taken.length < chunks && (chunk = stream.read()) !== null; ) taken.push(chunk as Buffer);
  } finally {
    if (own) stream.emit = emit;
    else delete (stream as { emit?: unknown }).emit;
  }
  return taken;
}
