// sendFile(): one transfer from start to end. It checks the arguments,
// starts opening the input, takes the transfer's place in line on its
// output (the socket's own write queue, or a queue per descriptor), and when
// its turn comes runs it on the native addon or the stream backend.
import type { FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { parseInput, parseOptions, parseOutput, type Backend, type FileRange, type Input, type Output, type SendFileOptions, type TransferPlan } from './arguments.js';
import { allBackends } from './capabilities.js';
import { AbortError, fileTruncated, invalidArgValue, streamDestroyed, systemError, withBytesSent, writeAfterEnd, type TransferError } from './errors.js';
import { binding, nativeError, type NativeTransfer } from './native.js';
import { closedError, enqueue, isTls, refreshIdleTimer, socketFd } from './net-socket.js';
import { openInput, type InputFile } from './open-file.js';
import { reserveNow, rest, tryNow } from './send-now.js';
import { streamTransfer, type StreamOutput } from './stream.js';
import { startInTurn } from './turn.js';

export interface SendFileResult {
  /** Header, file and trailer bytes sent. */
  bytesSent: number;
  /** The backend that carried the file bytes. */
  backend: Backend;
}

/** Works out the file range, refusing before anything is sent when the file is too short for it. */
function fileRange(plan: TransferPlan, size: bigint): FileRange {
  const count = plan.count ?? (size > plan.offset ? size - plan.offset : 0n);
  if (plan.offset + count > size) {
    throw fileTruncated(`it holds ${size} bytes, the range ends at byte ${plan.offset + count}`, 0);
  }
  return { offset: plan.offset, count };
}

/**
 * The descriptor to hand to the addon, or undefined where only the stream
 * backend can write. A socket's number is read here, in the tick that the
 * addon duplicates it in, and never kept across an await (see net-socket.ts).
 */
function outputFd(output: StreamOutput): number | undefined {
  return output.kind === 'fd' ? output.fd : socketFd(output.socket);
}

/** Progress counts as activity for the socket's idle timeout, and is the caller's to watch. */
function progressed(output: StreamOutput, plan: TransferPlan, bytesSent: number): void {
  if (output.kind === 'socket') refreshIdleTimer(output.socket);
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

/** 'stream', or the native backend to ask for ('auto' lets the addon pick the best one for the output). */
function chooseBackend(requested: string, fd: number | undefined): string {
  if (requested === 'auto') return fd !== undefined && binding ? 'auto' : 'stream';
  if (requested !== 'stream' && fd === undefined) {
    throw invalidArgValue('options.backend', requested, 'cannot write to a socket without its own descriptor (TLS, or not connected); use \'stream\'');
  }
  return requested;
}

/** What the addon threw (a failed dup, or the driver it could not start) as a system error, after `bytesSent` bytes. */
function addonError(error: unknown, bytesSent: number): TransferError {
  const e = error as { errno?: number; syscall?: string };
  return e.errno ? systemError(e.errno, e.syscall ?? 'dup', bytesSent) : withBytesSent(error, bytesSent);
}

/**
 * Runs the transfer in the addon. `fd` must have been read from the output
 * in this same tick (see outputFd). `before` counts bytes of it that sendNow
 * already sent: `plan` and `range` then describe the rest.
 */
function runNative(output: StreamOutput, fd: number, file: InputFile, range: FileRange, plan: TransferPlan, backend: string, before = 0): Promise<SendFileResult> {
  const socket = output.kind === 'socket' ? output.socket : undefined;
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
        plan.lease,
        (sent) => progressed(output, plan, before + sent),
        (errno, syscall, rest) => {
          cleanup();
          const sent = before + rest;
          if (errno === 0) return resolve({ bytesSent: sent, backend: transfer.backend });
          const cancelled = () => (why === 'signal' ? new AbortError(plan.signal?.reason, sent) : closedError(socket!, sent));
          reject(nativeError(errno, syscall, sent, range.offset + range.count, cancelled));
        },
      );
    } catch (error) {
      return reject(addonError(error, before));
    }
    plan.signal?.addEventListener('abort', onAbort, { once: true });
    socket?.once('close', onClose);
    try {
      transfer.start();
    } catch (error) {
      // The addon could not start its driver (no descriptors left for its waiter).
      cleanup();
      reject(addonError(error, before));
    }
  });
}

/** A small transfer whose turn has come: at once when the socket takes it all, else what is left in the driver. */
function sendNowOrDrive(output: StreamOutput & { kind: 'socket' }, fd: number, file: InputFile, range: FileRange, plan: TransferPlan): SendFileResult | Promise<SendFileResult> {
  const now = tryNow(fd, file.fd, Number(range.offset), Number(range.count), plan.headers, plan.trailers);
  if (now.sent > 0) progressed(output, plan, now.sent);
  if (now.done) return { bytesSent: now.sent, backend: now.backend };
  // onProgress may have aborted the signal (whose listener, added now, would
  // never run) or destroyed the socket (whose descriptor `fd` then is closed,
  // or already another file's).
  if (plan.signal?.aborted) throw new AbortError(plan.signal.reason, now.sent);
  if (output.socket.destroyed) throw closedError(output.socket, now.sent);
  const left = rest(plan, range, now.sent);
  return runNative(output, fd, file, left.range, left.plan, 'auto', now.sent);
}

// sendNow takes its offset as a number.
const MAX_SAFE = BigInt(Number.MAX_SAFE_INTEGER);

/** Closes the input of a transfer that will not run, once it is open. */
function discard(opened: Promise<InputFile>): void {
  opened.then((file) => file.close()).catch(() => {});
}

/** Starts a transfer whose input is open, on the JS thread: sent already, or running. */
function start(output: StreamOutput, file: InputFile, plan: TransferPlan): SendFileResult | Promise<SendFileResult> {
  const range = fileRange(plan, file.size);
  if (plan.signal?.aborted) throw new AbortError(plan.signal.reason, 0);
  // From here to the addon's duplicate of the descriptor: one tick, no await.
  const fd = outputFd(output);
  const backend = chooseBackend(plan.backend, fd);
  const bytes = Number(range.count) + (plan.headers?.length ?? 0) + (plan.trailers?.length ?? 0);
  if (backend === 'auto' && output.kind === 'socket' && range.offset <= MAX_SAFE && reserveNow(output.socket, bytes, plan.lease)) return sendNowOrDrive(output, fd!, file, range, plan);
  if (backend !== 'stream') return runNative(output, fd!, file, range, plan, backend);
  return streamTransfer(output, { fd: file.fd, ...range }, plan, (sent) => progressed(output, plan, sent)).then((bytesSent) => ({ bytesSent, backend }));
}

/** Runs a transfer whose turn on its output has come. */
async function transfer(output: StreamOutput, opened: Promise<InputFile>, plan: TransferPlan): Promise<SendFileResult> {
  if (plan.signal?.aborted) {
    discard(opened);
    throw new AbortError(plan.signal.reason, 0);
  }
  const file = await opened;
  try {
    return await startInTurn(() => start(output, file, plan));
  } finally {
    file.close();
  }
}

/** Takes the transfer's place in the socket's own write queue, among the caller's writes. */
function sendToSocket(socket: Socket, source: Input, plan: TransferPlan): Promise<SendFileResult> {
  if (socket.destroyed || socket.writableEnded) {
    return Promise.reject(socket.destroyed ? streamDestroyed(0) : Object.assign(writeAfterEnd(), { bytesSent: 0 }));
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

// Transfers to one descriptor run one after another, in call order.
const fdQueues = new Map<number, Promise<unknown>>();

/** Queues the transfer behind the ones already sending to this descriptor. */
function sendToFd(fd: number, source: Input, plan: TransferPlan): Promise<SendFileResult> {
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

/**
 * Sends `[offset, offset + count)` of `input` to `out`, with optional header
 * and trailer bytes around it.
 */
export function sendFile(out: Socket | number | FileHandle, input: string | URL | number | FileHandle, options?: SendFileOptions): Promise<SendFileResult> {
  let output: Output;
  let source: Input;
  let plan: TransferPlan;
  try {
    output = parseOutput(out);
    source = parseInput(input);
    plan = parseOptions(options, allBackends);
  } catch (error) {
    return Promise.reject(error);
  }
  return sendPlanned(output, source, plan);
}

/**
 * sendFile() once its arguments are parsed: the entry for serving, which
 * plans its transfers (a response's parts) itself.
 */
export function sendPlanned(output: Output, source: Input, plan: TransferPlan): Promise<SendFileResult> {
  if (output.kind === 'fd') return sendToFd(output.fd, source, plan);
  if (plan.backend !== 'auto' && plan.backend !== 'stream' && isTls(output.socket)) {
    return Promise.reject(invalidArgValue('options.backend', plan.backend, 'cannot write to a TLS socket: it would bypass encryption; use \'stream\''));
  }
  return sendToSocket(output.socket, source, plan);
}
