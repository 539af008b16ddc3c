// receiveFile(): bytes from a socket, a pipe, a device or an HTTP request
// body into a file (or any descriptor), without them entering JavaScript
// where the addon can carry them: Linux splices them through a pipe, other
// systems copy them on the driver thread. TLS sockets, chunked request
// bodies, other streams and machines without the addon take the stream
// path, with the same result.
import { closeSync, constants as fsConstants, fstatSync, open, read, write } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { checkFd, parseFileArgument, parseSize } from './arguments.js';
import { AbortError, endedEarly, invalidArgType, invalidArgValue, outOfRange, prematureClose, systemError } from './errors.js';
import { canFlow, cancelledErrno, flowBackends, parseFlowOptions, runFlow, type FlowEnd, type FlowOptions } from './flow.js';
import { bodyReceiver } from './http/request-body.js';
import { closedError, connected, isTcp, isTls, socketFd, takeBuffered, takeReadSide, type ReadSide } from './net-socket.js';
import { fdWriter } from './stream.js';

/** `splice` (Linux), `readwrite` (the driver thread copies), or `stream` (through JavaScript). */
export type ReceiveBackend = 'splice' | 'readwrite' | 'stream';

export interface ReceiveFileOptions {
  /** Where in the output the first byte goes; a file's own position is never used. Default 0. */
  offset?: number | bigint;
  /** How many bytes to receive. Default: to the input's end of stream (for a request, its body). */
  count?: number | bigint;
  /**
   * How a path is opened: `'w'` (default: created or emptied), `'wx'` (created, failing if it
   * exists), `'r+'` (an existing file, written over from `offset`), `'a'` (created, appended to).
   */
  flags?: 'w' | 'wx' | 'r+' | 'a';
  signal?: AbortSignal;
  /** Called as bytes arrive, with the bytes written so far. */
  onProgress?: (bytesReceived: number) => void;
  /** `'auto'` (default) or one of `capabilities().receive.backends`. */
  backend?: 'auto' | ReceiveBackend;
}

export interface ReceiveFileResult {
  /** Bytes written to the output. */
  bytesReceived: number;
  /** What carried them. */
  backend: ReceiveBackend;
}

/** An error of a receive, with the bytes written before it. */
export type ReceiveError = Error & { code?: string; bytesReceived?: number };

type Source =
  | { kind: 'socket'; socket: Socket }
  | { kind: 'request'; request: IncomingMessage }
  | { kind: 'stream'; stream: Readable }
  | { kind: 'fd'; fd: number };

type Target = { kind: 'path'; path: string } | { kind: 'fd'; fd: number };

interface Plan extends FlowOptions {
  offset: bigint;
  count: bigint | undefined;
  flags: number;
}

/** An open output: its descriptor, and whether it is written at offsets (a regular file). */
interface Output {
  fd: number;
  seekable: boolean;
  close(): void;
}

const { O_WRONLY, O_RDWR, O_CREAT, O_TRUNC, O_EXCL, O_APPEND } = fsConstants;
const OPEN_FLAGS: Record<string, number> = {
  w: O_WRONLY | O_CREAT | O_TRUNC,
  wx: O_WRONLY | O_CREAT | O_EXCL,
  'r+': O_RDWR,
  a: O_WRONLY | O_CREAT | O_APPEND,
};
// Never block: open(2) of a FIFO without a reader would wait on a threadpool thread.
const O_NONBLOCK = fsConstants.O_NONBLOCK ?? 0;

/** Every backend receiveFile has here, best first; `stream` last. */
export const receiveBackends: readonly string[] = flowBackends('toFile');

function isReadable(value: unknown): value is Readable {
  const v = value as Readable;
  return typeof v === 'object' && v !== null && typeof v.read === 'function' && typeof v.on === 'function' && typeof v.unshift === 'function';
}

function parseSource(input: unknown): Source {
  if (input instanceof Socket) return { kind: 'socket', socket: input };
  if (input instanceof IncomingMessage) return { kind: 'request', request: input };
  if (typeof input === 'number') return { kind: 'fd', fd: checkFd('input', input) };
  if (isReadable(input)) return { kind: 'stream', stream: input };
  throw invalidArgType('input', 'an instance of net.Socket, http.IncomingMessage or stream.Readable, or a file descriptor', input);
}

function parsePlan(options: unknown): Plan {
  const flow = parseFlowOptions(options, receiveBackends);
  const o = (options ?? {}) as ReceiveFileOptions;
  const offset = parseSize('options.offset', o.offset) ?? 0n;
  const count = parseSize('options.count', o.count);
  if (count !== undefined && offset + count > (1n << 63n) - 1n) throw outOfRange('options.count', `<= ${(1n << 63n) - 1n - offset}n with this offset`, o.count);
  const flags = o.flags ?? 'w';
  if (!Object.hasOwn(OPEN_FLAGS, flags)) throw invalidArgValue('options.flags', flags, "must be 'w', 'wx', 'r+' or 'a'");
  return { ...flow, offset, count, flags: OPEN_FLAGS[flags] };
}

const openAsync = promisify(open);
const writeAsync = promisify(write);

async function openOutput(target: Target, flags: number): Promise<Output> {
  if (target.kind === 'fd') {
    const st = fstatSync(target.fd);
    if (st.isDirectory()) throw systemError(21 /* EISDIR */, 'write');
    return { fd: target.fd, seekable: st.isFile(), close: () => {} };
  }
  const fd = await openAsync(target.path, flags | O_NONBLOCK, 0o666);
  const st = fstatSync(fd);
  return { fd, seekable: st.isFile(), close: () => closeSync(fd) };
}

/** The error with the bytes written before it (and not bytesSent, which is sendFile's). */
function withReceived<E extends Error>(error: E, bytesReceived: number): E & { bytesReceived: number } {
  delete (error as { bytesSent?: number }).bytesSent;
  return Object.assign(error, { bytesReceived });
}

/** What the outcome of a native receive means to the caller; `expected` is the count to check against. */
function settle(end: FlowEnd, expected: bigint | undefined, signal: AbortSignal | undefined): ReceiveFileResult {
  const bytes = end.moved[0];
  if (end.errno === 0) {
    if (expected !== undefined && BigInt(bytes) < expected) throw endedEarly(bytes, expected);
    return { bytesReceived: bytes, backend: end.backend as ReceiveBackend };
  }
  if (end.errno === cancelledErrno && end.why === 'signal') throw withReceived(new AbortError(signal?.reason), bytes);
  if (end.errno === cancelledErrno && end.closed) throw withReceived(closedError(end.closed, 0), bytes);
  throw withReceived(systemError(end.errno, end.syscall), bytes);
}

/** Splits the bytes Node had read into those this receive takes (up to `count`) and the rest. */
function splitPending(chunks: Buffer[], count: bigint | undefined): { pending: Buffer; rest: Buffer | undefined } {
  const all = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks);
  if (count === undefined || BigInt(all.length) <= count) return { pending: all, rest: undefined };
  return { pending: all.subarray(0, Number(count)), rest: all.subarray(Number(count)) };
}

function aborted(plan: Plan): ReceiveError {
  return withReceived(new AbortError(plan.signal?.reason), 0);
}

// ---------------------------------------------------------------- the stream path

/**
 * Reads a stream chunk by chunk for the stream path. It listens for
 * 'readable' from the first read to release(), so that the stream stays in
 * paused mode meanwhile, whatever 'data' listeners it has; its chunks are
 * read without a 'data' event (takeBuffered): they are the receive's.
 */
function streamReader(stream: Readable, signal: AbortSignal | undefined, closed: () => Error) {
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let ended = stream.readableEnded;
  const onReadable = () => wake?.();
  const onEnd = () => {
    ended = true;
    wake?.();
  };
  const onError = (error: Error) => (failure ??= error);
  const onClose = () => {
    failure ??= stream.errored ?? closed();
    wake?.();
  };
  const onAbort = () => {
    failure ??= new AbortError(signal?.reason);
    wake?.();
  };
  stream.on('readable', onReadable);
  stream.on('end', onEnd);
  stream.on('error', onError);
  stream.on('close', onClose);
  signal?.addEventListener('abort', onAbort);
  return {
    /** The next chunk, or null at the stream's end; rejects when it fails or closes first, or on the signal. */
    async next(): Promise<Buffer | null> {
      for (;;) {
        const [chunk] = takeBuffered(stream, 1);
        if (chunk) return typeof chunk === 'string' ? Buffer.from(chunk, stream.readableEncoding ?? 'utf8') : chunk;
        // An empty read: a stream that has ended emits 'end' then, and one
        // that has not asks for more and says 'readable' when it has it.
        stream.read(0);
        if (ended || stream.readableEnded) return null;
        if (failure) throw failure;
        if (stream.destroyed) throw stream.errored ?? closed();
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    release() {
      stream.removeListener('readable', onReadable);
      stream.removeListener('end', onEnd);
      stream.removeListener('error', onError);
      stream.removeListener('close', onClose);
      signal?.removeEventListener('abort', onAbort);
    },
  };
}

/** Writes chunks in order: at offsets from `offset` to a regular file, as the output takes them otherwise. */
function outputWriter(output: Output, offset: bigint): (chunk: Buffer) => Promise<void> {
  if (!output.seekable) {
    const writeFd = fdWriter(output.fd);
    return (chunk) => writeFd([chunk]);
  }
  let position = Number(offset);
  return async (chunk) => {
    for (let done = 0; done < chunk.length; ) {
      const { bytesWritten } = await writeAsync(output.fd, chunk, done, chunk.length - done, position);
      done += bytesWritten;
      position += bytesWritten;
    }
  };
}

type StreamReader = ReturnType<typeof streamReader>;

/**
 * Reads `stream` into the output up to `count` bytes or its end; bytes past
 * `count` go back to the stream (unshift), readable as before. `complete`
 * says whether a stream that ended without `count` ended where it should
 * (a request: its body complete).
 */
async function receiveStream(stream: Readable, reader: StreamReader, output: Output, plan: Plan, complete: () => boolean = () => true): Promise<ReceiveFileResult> {
  const write = outputWriter(output, plan.offset);
  let received = 0;
  try {
    while (plan.count === undefined || BigInt(received) < plan.count) {
      if (plan.signal?.aborted) throw new AbortError(plan.signal.reason);
      let chunk = await reader.next();
      if (chunk === null) break;
      const room = plan.count === undefined ? undefined : plan.count - BigInt(received);
      if (room !== undefined && BigInt(chunk.length) > room) {
        stream.unshift(chunk.subarray(Number(room)));
        chunk = chunk.subarray(0, Number(room));
      }
      await write(chunk);
      received += chunk.length;
      plan.onProgress?.(received);
    }
  } catch (error) {
    throw withReceived(error instanceof Error ? error : new Error(String(error)), received);
  } finally {
    reader.release();
  }
  if (plan.count !== undefined ? BigInt(received) < plan.count : !complete()) throw endedEarly(received, plan.count ?? BigInt(received));
  return { bytesReceived: received, backend: 'stream' };
}

/** The stream path from a stream, its reader made now: from this call on, its bytes are the receive's. */
function receiveThroughStream(stream: Readable, target: Target, plan: Plan, closed: () => Error, complete?: () => boolean): Promise<ReceiveFileResult> {
  const reader = streamReader(stream, plan.signal, closed);
  return openOutput(target, plan.flags).then(
    (output) => receiveStream(stream, reader, output, plan, complete).finally(() => output.close()),
    (error: Error) => {
      reader.release();
      throw withReceived(error, 0);
    },
  );
}

/** A descriptor read with fs.read on the threadpool (no addon): EAGAIN from a non-blocking one is waited out. */
function fdStream(fd: number): Readable {
  return new Readable({
    read(size) {
      const buffer = Buffer.allocUnsafe(Math.min(size, 64 * 1024));
      const attempt = () =>
        read(fd, buffer, 0, buffer.length, null, (error, n) => {
          if (error?.code === 'EAGAIN') return void setTimeout(attempt, 2);
          if (error) return this.destroy(error);
          this.push(n === 0 ? null : buffer.subarray(0, n));
        });
      attempt();
    },
  });
}

// ---------------------------------------------------------------- the sources

/** Runs a native receive from `fd` (read in this tick from `sockets[0]`, if any) with the bytes Node had read first. */
function nativeReceive(fd: number, output: Output, pending: Buffer, plan: Plan, sockets: Socket[]): Promise<FlowEnd> {
  const count = plan.count === undefined ? undefined : plan.count - BigInt(pending.length);
  return runFlow({
    mode: 'receive',
    fds: [fd, output.fd],
    offset: plan.offset,
    count,
    pending: [pending.length > 0 ? pending : null, null],
    backend: plan.backend,
    signal: plan.signal,
    sockets,
    tcp: sockets.length > 0 && isTcp(sockets[0]),
    onProgress: plan.onProgress,
  });
}

async function receiveSocket(socket: Socket, target: Target, plan: Plan): Promise<ReceiveFileResult> {
  await connected(socket);
  const closed = () => withReceived(closedError(socket, 0), 0);
  if (socket.destroyed) throw closed();
  const native = plan.backend !== 'stream' && canFlow && !isTls(socket) && socketFd(socket) !== undefined && socket.readableEncoding === null;
  if (!native) {
    if (plan.backend !== 'auto' && plan.backend !== 'stream') {
      throw invalidArgValue('options.backend', plan.backend, isTls(socket) ? "cannot read a TLS socket: its descriptor carries the encrypted bytes; use 'stream'" : "cannot read this socket without its own descriptor; use 'stream'");
    }
    return receiveThroughStream(socket, target, plan, closed);
  }
  // From here Node reads nothing of it: what it had read waits in its buffer.
  let side: ReadSide | undefined = takeReadSide(socket);
  try {
    const output = await openOutput(target, plan.flags);
    try {
      if (plan.signal?.aborted) throw aborted(plan);
      // One tick: the descriptor, the bytes Node holds, the flow.
      const fd = socketFd(socket)!;
      const { pending, rest } = splitPending(takeBuffered(socket), plan.count);
      if (rest) socket.unshift(rest);
      return settle(await nativeReceive(fd, output, pending, plan, [socket]), plan.count, plan.signal);
    } finally {
      output.close();
    }
  } catch (error) {
    throw (error as ReceiveError).bytesReceived === undefined ? withReceived(error as Error, 0) : error;
  } finally {
    if (!socket.destroyed) side?.giveBack();
    side = undefined;
  }
}

async function receiveFd(fd: number, target: Target, plan: Plan): Promise<ReceiveFileResult> {
  const st = fstatSync(fd);
  if (st.isDirectory()) throw systemError(21 /* EISDIR */, 'read');
  if (st.isFile()) throw invalidArgValue('input', fd, 'must be a socket, pipe or character device (sendFile reads files)');
  const output = await openOutput(target, plan.flags);
  try {
    if (plan.signal?.aborted) throw aborted(plan);
    if (plan.backend !== 'stream' && canFlow) return settle(await nativeReceive(fd, output, Buffer.alloc(0), plan, []), plan.count, plan.signal);
    const stream = fdStream(fd);
    const reader = streamReader(stream, plan.signal, () => prematureClose('The descriptor closed before its end'));
    try {
      return await receiveStream(stream, reader, output, plan);
    } finally {
      stream.destroy();
    }
  } finally {
    output.close();
  }
}

async function receiveRequest(request: IncomingMessage, target: Target, plan: Plan): Promise<ReceiveFileResult> {
  const body = plan.backend !== 'stream' && canFlow ? bodyReceiver(request) : undefined;
  const socket = request.socket;
  const closed = () => withReceived(closedError(socket, 0), 0);
  if (!body) {
    if (plan.backend !== 'auto' && plan.backend !== 'stream') {
      throw invalidArgValue('options.backend', plan.backend, "cannot read this request's body from its socket (TLS, chunked, or already read from); use 'stream'");
    }
    // A request's body ended where it should when the parser completed it.
    return receiveThroughStream(request, target, plan, closed, () => request.complete);
  }
  try {
    const output = await openOutput(target, plan.flags);
    try {
      // The parser may still be going through bytes it read with the
      // request's head: what it has pushed into the request by the next
      // turn is everything it read.
      await body.settled();
      if (plan.signal?.aborted) throw aborted(plan);
      if (socket.destroyed) throw closed();
      const { buffered, fromSocket, expected } = body.take(plan.count);
      const fd = socketFd(socket)!;
      const { pending, rest } = splitPending(buffered, plan.count);
      if (rest) request.unshift(rest);
      const end = await nativeReceive(fd, output, pending, { ...plan, count: BigInt(pending.length) + fromSocket }, [socket]);
      body.consumed(end.taken);
      return settle(end, expected, plan.signal);
    } finally {
      output.close();
    }
  } catch (error) {
    throw (error as ReceiveError).bytesReceived === undefined ? withReceived(error as Error, 0) : error;
  } finally {
    body.giveBack();
  }
}

/**
 * Receives into `out` (a path, a descriptor or a FileHandle) at `offset`:
 * from a connected socket or a socket, pipe or device descriptor until
 * `count` bytes or its end of stream; from an HTTP request, its body.
 * Bytes past `count` stay readable on the input.
 */
export function receiveFile(
  input: Socket | IncomingMessage | Readable | number,
  out: string | URL | number | FileHandle,
  options?: ReceiveFileOptions,
): Promise<ReceiveFileResult> {
  let source: Source;
  let target: Target;
  let plan: Plan;
  try {
    source = parseSource(input);
    target = parseFileArgument('out', out);
    plan = parsePlan(options);
  } catch (error) {
    return Promise.reject(error);
  }
  if (plan.signal?.aborted) return Promise.reject(aborted(plan));
  switch (source.kind) {
    case 'socket':
      return receiveSocket(source.socket, target, plan);
    case 'request':
      return receiveRequest(source.request, target, plan);
    case 'fd':
      return receiveFd(source.fd, target, plan).catch((error: ReceiveError) => {
        throw error.bytesReceived === undefined ? withReceived(error, 0) : error;
      });
    case 'stream':
      return receiveThroughStream(source.stream, target, plan, () => prematureClose('The stream closed before its end'));
  }
}
