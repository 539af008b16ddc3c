// zerocopy: send a file to a socket, pipe or file without copying it
// through JavaScript, on every system Node runs on.
import { fstat, fstatSync } from 'node:fs';
import { open } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { arch, platform } from 'node:os';
import { promisify } from 'node:util';
import {
  AbortError,
  fileTruncated,
  invalidArgValue,
  streamDestroyed,
  systemError,
  withBytesSent,
  type TransferError,
} from './errors.js';
import { binding, loadError, type NativeTransfer } from './native.js';
import { parseInput, parseOptions, parseOutput, type Input, type Plan, type SendFileOptions } from './options.js';
import { enqueue, type RawWriter } from './socket-queue.js';
import { fdWriter, sendStream, STREAM_CHUNK } from './stream.js';

export type { SendFileOptions, Chunk, Chunks } from './options.js';
export type { TransferError } from './errors.js';
export { AbortError } from './errors.js';

export interface SendFileResult {
  /** Header, file and trailer bytes sent. */
  bytesSent: number;
  /** The backend that carried the file bytes. */
  backend: string;
}

export interface Capabilities {
  platform: NodeJS.Platform;
  arch: string;
  /** Whether the native addon loaded in this process. */
  native: boolean;
  /** Why it did not, when it did not. */
  loadError?: string;
  /** Backends this process can use, best first; `stream` is always last. */
  backends: string[];
  /** Whether the preferred backend keeps file bytes out of user space. */
  zeroCopy: boolean;
  /** How headers and trailers join the file: in the system call (`vector`), held by TCP_CORK (`cork`), or written separately (`copy`). */
  headersTrailers: 'vector' | 'cork' | 'copy';
  /** Whether the mmap backend holds a read lease on the file, so that another process opening it for writing or truncating it stops the transfer cleanly. */
  leases: boolean;
  /** Whether a regular file can be the output. */
  fileToFile: boolean;
  /** Whether a pipe can be the output. */
  fileToPipe: boolean;
  /** The most bytes one system call moves. */
  maxChunk: number;
}

const nativeCaps = binding?.capabilities();
const nativeBackends = nativeCaps?.backends.map((b) => b.name) ?? [];
const allBackends = [...nativeBackends, 'stream'];

export function capabilities(): Capabilities {
  const caps: Capabilities = {
    platform: platform(),
    arch: arch(),
    native: binding !== undefined,
    backends: [...allBackends],
    zeroCopy: nativeCaps?.backends[0]?.zeroCopy ?? false,
    headersTrailers: nativeCaps?.headersTrailers ?? 'copy',
    leases: nativeCaps?.leases ?? false,
    fileToFile: true,
    fileToPipe: true,
    maxChunk: nativeCaps?.maxChunk ?? STREAM_CHUNK,
  };
  if (loadError !== undefined) caps.loadError = loadError;
  return caps;
}

interface OpenFile {
  fd: number;
  size: bigint;
  close(): Promise<void>;
}

const fstatAsync = promisify(fstat);

async function openInput(input: Input): Promise<OpenFile> {
  let fd: number;
  let close = async () => {};
  if (input.kind === 'path') {
    const handle = await open(input.path, 'r');
    fd = handle.fd;
    close = () => handle.close();
  } else {
    fd = input.fd;
  }
  try {
    // An open descriptor's fstat reads the inode the kernel already holds:
    // no reason to pay a threadpool round trip for it.
    const st = input.kind === 'fd' ? fstatSync(fd, { bigint: true }) : await fstatAsync(fd, { bigint: true });
    if (st.isDirectory()) throw systemError(21 /* EISDIR */, 'read');
    if (!st.isFile()) throw invalidArgValue('input', input.kind === 'path' ? input.path : fd, 'must be a regular file');
    return { fd, size: st.size, close };
  } catch (error) {
    await close();
    throw error;
  }
}

/** Works out the file range, refusing before anything is sent when the file is too short for it. */
function fileRange(plan: Plan, size: bigint): { offset: bigint; count: bigint } {
  const count = plan.count ?? (size > plan.offset ? size - plan.offset : 0n);
  if (plan.offset + count > size) {
    throw fileTruncated(`it holds ${size} bytes, the range ends at byte ${plan.offset + count}`, 0);
  }
  return { offset: plan.offset, count };
}

type Target = { kind: 'fd'; fd: number } | { kind: 'socket'; socket: Socket; raw: RawWriter };

/**
 * The descriptor to hand to the addon, or undefined where only the stream
 * backend can write (TLS, a socket without a handle).
 *
 * A socket's descriptor number is read here and used in the same tick,
 * never kept across an await: Node closes a destroyed socket's descriptor at
 * once, and the next connection may be given the same number. The addon
 * duplicates it before this tick ends, so from then on it is ours.
 */
function outputFd(target: Target): number | undefined {
  if (target.kind === 'fd') return target.fd;
  const { socket } = target;
  if (socket.destroyed) throw closedError(socket, 0);
  if ((socket as { encrypted?: boolean }).encrypted) return undefined; // raw writes would skip TLS
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Progress counts as activity for the socket's idle timeout, and is the caller's to watch. */
function progressed(socket: Socket | undefined, plan: Plan, bytesSent: number): void {
  (socket as unknown as { _unrefTimer?: () => void } | undefined)?._unrefTimer?.();
  try {
    plan.onProgress?.(bytesSent);
  } catch (error) {
    // The caller's bug, reported as an uncaught exception of its own, not
    // thrown into the middle of the transfer's bookkeeping.
    process.nextTick(() => {
      throw error;
    });
  }
}

/** Why a socket closed under a transfer: its own error (a reset peer, say) if it had one. */
function closedError(socket: Socket, bytesSent: number): TransferError {
  const cause = (socket as { errored?: NodeJS.ErrnoException | null }).errored;
  // ECANCELED is Node's word (22 and later) for writes that destroy() cut off: the destroy is the cause.
  if (cause?.errno && cause.syscall && cause.code !== 'ECANCELED') return systemError(-cause.errno, cause.syscall, bytesSent);
  return streamDestroyed(bytesSent);
}

/** 'stream', or the native backend to ask for ('auto' lets the addon pick the best one for the output). */
function chooseBackend(requested: string, fd: number | undefined): string {
  if (requested === 'auto') return fd !== undefined && binding ? 'auto' : 'stream';
  if (requested !== 'stream' && fd === undefined) {
    throw invalidArgValue('options.backend', requested, 'cannot write to a socket without its own descriptor (TLS, or not connected); use \'stream\'');
  }
  return requested;
}

/** Runs the transfer in the addon. `fd` must have been read from the target in this same tick (see outputFd). */
function runNative(target: Target, fd: number, file: OpenFile, range: { offset: bigint; count: bigint }, plan: Plan, backend: string): Promise<SendFileResult> {
  const socket = target.kind === 'socket' ? target.socket : undefined;
  return new Promise((resolve, reject) => {
    let why: 'signal' | 'destroyed' | undefined;
    const onAbort = () => {
      why = 'signal';
      transfer.abort(false);
    };
    const onClose = () => {
      why ??= 'destroyed';
      // Shut the connection down: our duplicate descriptor would keep it open.
      transfer.abort(true);
    };
    const cleanup = () => {
      plan.signal?.removeEventListener('abort', onAbort);
      socket?.removeListener('close', onClose);
    };
    let transfer: NativeTransfer;
    try {
      transfer = new binding!.Transfer(
        fd,
        file.fd,
        range.offset,
        range.count,
        plan.headers,
        plan.trailers,
        backend,
        (sent) => progressed(socket, plan, sent),
        (errno, syscall, sent) => {
          cleanup();
          if (errno === 0) resolve({ bytesSent: sent, backend: transfer.backend });
          else if (errno === nativeCaps!.cancelledErrno) {
            reject(why === 'signal' ? new AbortError(plan.signal?.reason, sent) : closedError(socket!, sent));
          } else if (errno === nativeCaps!.truncatedErrno) {
            reject(fileTruncated(`it ended before byte ${range.offset + range.count}`, sent));
          } else reject(systemError(errno, syscall, sent));
        },
      );
    } catch (error) {
      const e = error as { errno?: number; syscall?: string };
      return reject(e.errno ? systemError(e.errno, e.syscall ?? 'dup', 0) : Object.assign(error as Error, { bytesSent: 0 }));
    }
    plan.signal?.addEventListener('abort', onAbort, { once: true });
    socket?.once('close', onClose);
    transfer.start();
  });
}

function runStream(target: Target, file: OpenFile, range: { offset: bigint; count: bigint }, plan: Plan): Promise<number> {
  const socket = target.kind === 'socket' ? target.socket : undefined;
  const sent = { value: 0 };
  let write: (chunks: Buffer[]) => Promise<void>;
  if (target.kind === 'socket') {
    const { socket, raw } = target;
    // Each write settles when the socket has handed it to the kernel (or to
    // TLS): that is the back-pressure. Abort and close end the wait early.
    write = (chunks) =>
      new Promise<void>((resolve, reject) => {
        const finish = (error?: Error | null) => {
          plan.signal?.removeEventListener('abort', onAbort);
          socket.removeListener('close', onClose);
          if (error) reject(error);
          else resolve();
        };
        const onAbort = () => finish(new AbortError(plan.signal?.reason, sent.value));
        const onClose = () => finish(closedError(socket, sent.value));
        if (plan.signal?.aborted) return onAbort();
        if (socket.destroyed) return onClose();
        plan.signal?.addEventListener('abort', onAbort, { once: true });
        socket.once('close', onClose);
        raw.write(chunks, (error) => {
          // A write that destroy() cancelled completes without an error
          // (Node 20) or with ECANCELED (Node 22 and later); either way its
          // bytes did not all reach the kernel, so they are not counted.
          if (socket.destroyed) return onClose();
          finish(error && withBytesSent(error, sent.value));
        });
      });
  } else {
    const writeFd = fdWriter(target.fd);
    write = async (chunks) => {
      if (plan.signal?.aborted) throw new AbortError(plan.signal.reason, sent.value);
      await writeFd(chunks);
    };
  }
  return sendStream(
    {
      fd: file.fd,
      ...range,
      headers: plan.headers,
      trailers: plan.trailers,
      write,
      progress: (bytes) => progressed(socket, plan, bytes),
    },
    sent,
  ).catch((error) => {
    throw withBytesSent(error, sent.value);
  });
}

/** Closes the input of a transfer that will not run, once it is open. */
function discard(opened: Promise<OpenFile>): void {
  opened.then((file) => file.close()).catch(() => {});
}

async function transfer(target: Target, opened: Promise<OpenFile>, plan: Plan): Promise<SendFileResult> {
  if (plan.signal?.aborted) {
    discard(opened);
    throw new AbortError(plan.signal.reason, 0);
  }
  const file = await opened;
  try {
    const range = fileRange(plan, file.size);
    if (plan.signal?.aborted) throw new AbortError(plan.signal.reason, 0);
    // From here to the addon's duplicate of the descriptor: one tick, no await.
    const fd = outputFd(target);
    const backend = chooseBackend(plan.backend, fd);
    if (backend === 'stream') return { bytesSent: await runStream(target, file, range, plan), backend };
    return await runNative(target, fd!, file, range, plan, backend);
  } finally {
    await file.close();
  }
}

// Transfers to one descriptor run one after another, in call order.
const fdQueues = new Map<number, Promise<unknown>>();

/**
 * Sends `[offset, offset + count)` of `input` to `out`, with optional header
 * and trailer bytes around it.
 */
export function sendFile(out: Socket | number | import('node:fs/promises').FileHandle, input: string | URL | number | import('node:fs/promises').FileHandle, options?: SendFileOptions): Promise<SendFileResult> {
  let plan: Plan;
  let output: ReturnType<typeof parseOutput>;
  let source: Input;
  try {
    output = parseOutput(out);
    source = parseInput(input);
    plan = parseOptions(options, allBackends);
    if (output.kind === 'socket' && plan.backend !== 'auto' && plan.backend !== 'stream' && (output.socket as { encrypted?: boolean }).encrypted) {
      throw invalidArgValue('options.backend', plan.backend, 'cannot write to a TLS socket: it would bypass encryption; use \'stream\'');
    }
  } catch (error) {
    return Promise.reject(error);
  }

  if (output.kind === 'socket') {
    const socket = output.socket;
    if (socket.destroyed || socket.writableEnded) {
      return Promise.reject(socket.destroyed ? streamDestroyed(0) : Object.assign(new Error('write after end'), { code: 'ERR_STREAM_WRITE_AFTER_END', bytesSent: 0 }));
    }
    // Opening starts now; the transfer takes its place in the socket's queue now too.
    const opened = openInput(source);
    opened.catch(() => {});
    let ran = false;
    const result = enqueue(socket, async (raw) => {
      ran = true;
      try {
        return await transfer({ kind: 'socket', socket, raw }, opened, plan);
      } catch (error) {
        // Half a response is worse than none: a socket that got part of
        // this transfer cannot be used for anything else.
        if (((error as TransferError).bytesSent ?? 0) > 0) socket.destroy();
        throw error;
      }
    });
    return result.catch((error) => {
      if (ran) throw error;
      // The socket closed before the transfer's turn came: nothing will
      // read the file, and the reason is the socket's (Node 22 and later
      // report a cancelled write as ECANCELED).
      discard(opened);
      throw socket.destroyed ? closedError(socket, 0) : withBytesSent(error, 0);
    });
  }

  const fd = output.fd;
  const previous = fdQueues.get(fd) ?? Promise.resolve();
  const opened = openInput(source);
  opened.catch(() => {});
  const result = previous.then(() => transfer({ kind: 'fd', fd }, opened, plan));
  const settled = result.catch(() => {});
  fdQueues.set(fd, settled);
  void settled.then(() => {
    if (fdQueues.get(fd) === settled) fdQueues.delete(fd);
  });
  return result;
}

// HTTP file serving on top of sendFile().
export { serveFile, type ServeFileOptions, type ServeResult, type ServeRequest, type ServeResponse } from './serve.js';
export { serveStatic, fastifyServeStatic, type ServeStaticOptions, type StaticHandler, type FastifyServeStaticOptions, type Next, type Encoding } from './serve-static.js';
export type { FileCacheOptions } from './file-cache.js';
