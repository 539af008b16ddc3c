// sendFile(): one transfer from start to end. It checks the arguments,
// starts opening the input, takes the transfer's place in line on its
// output (the socket's own write queue, or a queue per descriptor), and when
// its turn comes runs it on the native addon or the stream backend.
import type { FileHandle } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseInput, parseOptions, parseOutput, type Backend, type Input, type Output, type SendFileOptions, type TransferPlan } from './arguments.js';
import { allBackends } from './capabilities.js';
import { AbortError, fileTruncated, invalidArgValue, nativeError, streamDestroyed, systemError, withBytesSent, type TransferError } from './errors.js';
import { binding, nativeCaps, type NativeTransfer } from './native.js';
import { closedError, enqueue, isTcp, isTls, nothingQueued, refreshIdleTimer, socketFd } from './net-socket.js';
import { openInput, type InputFile } from './open-file.js';
import { streamTransfer, type StreamOutput } from './stream.js';

export interface SendFileResult {
  /** Header, file and trailer bytes sent. */
  bytesSent: number;
  /** The backend that carried the file bytes. */
  backend: Backend;
}

interface Range {
  offset: bigint;
  count: bigint;
}

/** Works out the file range, refusing before anything is sent when the file is too short for it. */
function fileRange(plan: TransferPlan, size: bigint): Range {
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
function runNative(output: StreamOutput, fd: number, file: InputFile, range: Range, plan: TransferPlan, backend: string, before = 0): Promise<SendFileResult> {
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

// ---------------------------------------------------------------- small transfers now

// Its own ArrayBuffer: off the V8 heap, so the addon may keep a pointer to it.
const nowResult = new Float64Array(new ArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT));
// An addon built before sendNow existed (a stale build) still works, without it.
const canSendNow = typeof binding?.sendNow === 'function' && nativeCaps?.inlineBytes !== undefined;
if (canSendNow) binding!.setSendNowResult(nowResult);
const { EAGAIN, EFAULT } = osConstants.errno;

/** What is left of a transfer after its first `sent` bytes. */
function rest(plan: TransferPlan, range: Range, sent: number): { plan: TransferPlan; range: Range } {
  const headers = plan.headers?.length ?? 0;
  const fromFile = BigInt(Math.min(Math.max(sent - headers, 0), Number(range.count)));
  const fromTrailers = Math.max(sent - headers - Number(range.count), 0);
  return {
    plan: {
      ...plan,
      headers: sent < headers ? plan.headers!.subarray(sent) : null,
      trailers: fromTrailers > 0 ? plan.trailers!.subarray(fromTrailers) : plan.trailers,
    },
    range: { offset: range.offset + fromFile, count: range.count - fromFile },
  };
}

// One turn of the event loop gives transfers two budgets, so that a burst
// of them (a thousand clients at once, whose files all open in the same
// turn) cannot hold the loop up: the bytes of sendNow's attempts, past
// which small transfers go to the driver, and the time spent starting
// transfers on the JS thread, past which the rest start in later turns.
const TURN_BUDGET = 4 * 1024 * 1024;
const TURN_TIME_MS = 2;
let spentThisTurn = 0;
let timeThisTurn = 0;
let turnReset: NodeJS.Immediate | undefined;
// Starts waiting for a turn with time left, first come first served.
const waitingStarts: (() => void)[] = [];
let startsLater: NodeJS.Immediate | undefined;

function resetTurnSoon(): void {
  turnReset ??= setImmediate(() => {
    spentThisTurn = 0;
    timeThisTurn = 0;
    turnReset = undefined;
  });
}

function spendThisTurn(bytes: number): void {
  spentThisTurn += bytes;
  resetTurnSoon();
}

/** Runs `run` on the JS thread, counting its time against this turn's budget. */
function timed<T>(run: () => T): T {
  const began = performance.now();
  try {
    return run();
  } finally {
    timeThisTurn += performance.now() - began;
    resetTurnSoon();
  }
}

/**
 * In a later turn (after the reset scheduled before it), starts what
 * waited, in order, while the turn has time; the rest wait on.
 */
function startWaiting(): void {
  startsLater = undefined;
  while (waitingStarts.length > 0 && timeThisTurn < TURN_TIME_MS) waitingStarts.shift()!();
  if (waitingStarts.length > 0) startsLater = setImmediate(startWaiting);
}

/**
 * Runs `start` now if this turn has time left for starting transfers and
 * none is waiting, else in a later turn: one by one from a queue, not by
 * waking every waiter each turn.
 */
function startInTurn<T>(start: () => T | Promise<T>): T | Promise<T> {
  if (timeThisTurn < TURN_TIME_MS && waitingStarts.length === 0) return timed(start);
  return new Promise((resolve, reject) => {
    waitingStarts.push(() => {
      try {
        resolve(timed(start));
      } catch (error) {
        reject(error);
      }
    });
    startsLater ??= setImmediate(startWaiting);
  });
}

/**
 * Whether sendNow may take a transfer of `bytes` in all, and if so counts
 * them against this turn's budget: the addon is here, the bytes are few
 * (and this turn has not sent too many already), no lease is asked for
 * (sendNow takes none), and the socket is TCP. Only TCP: a net.Socket can
 * also stand for a pipe or a terminal (process.stdout), whose descriptor
 * need not be non-blocking; a Transfer makes those non-blocking for its
 * duration.
 */
function reserveNow(socket: Socket, bytes: number, lease: boolean): boolean {
  if (!canSendNow || lease || !isTcp(socket)) return false;
  if (bytes > nativeCaps!.inlineBytes || spentThisTurn + bytes > TURN_BUDGET) return false;
  spendThisTurn(bytes);
  return true;
}

/**
 * One synchronous attempt (the addon's sendNow) with the socket's
 * descriptor `fd`, read in this tick. Says how far it got; throws when the
 * socket or the file failed.
 */
function tryNow(fd: number, inFd: number, offset: number, count: number, headers: Buffer | string | null, trailers: Buffer | null, mapped?: Buffer): { done: boolean; sent: number; backend: Backend } {
  const call = binding!.sendNow(fd, nativeCaps!.outputKinds.tcp, inFd, offset, mapped ? 0 : count, headers, trailers, mapped);
  let [result, sent, backendIndex] = nowResult;
  // The mapping reaches past a file truncated since: the kernel says EFAULT.
  if (mapped && result === EFAULT) result = nativeCaps!.truncatedErrno;
  if (result !== 0 && result !== EAGAIN) throw nativeError(result, call ?? '', sent, BigInt(offset) + BigInt(count), () => streamDestroyed(sent));
  return { done: result === 0, sent, backend: mapped ? 'mmap' : nativeCaps!.backends[backendIndex].name };
}

/** A small transfer whose turn has come: at once when the socket takes it all, else what is left in the driver. */
function sendNowOrDrive(output: StreamOutput & { kind: 'socket' }, fd: number, file: InputFile, range: Range, plan: TransferPlan): SendFileResult | Promise<SendFileResult> {
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
    if (output.kind === 'socket' && plan.backend !== 'auto' && plan.backend !== 'stream' && isTls(output.socket)) {
      throw invalidArgValue('options.backend', plan.backend, 'cannot write to a TLS socket: it would bypass encryption; use \'stream\'');
    }
  } catch (error) {
    return Promise.reject(error);
  }
  return output.kind === 'socket' ? sendToSocket(output.socket, source, plan) : sendToFd(output.fd, source, plan);
}

/**
 * sendFile() for serving: a small range of an open file with the response
 * head, on a socket with nothing queued ahead of it. In the common case the
 * socket takes it all at once and the transfer is over when this returns,
 * without a queue entry, a promise or a duplicate descriptor; what the
 * socket cannot take at once goes through sendFile(). Returns undefined,
 * having sent nothing, when this does not apply. `head` may be the latin1
 * string node:http renders. `mapped`, the range's bytes from
 * mapSmallFile(), lets the head and the body leave in one writev.
 */
export function sendFileNow(socket: Socket, inFd: number, offset: number, count: number, head: Buffer | string, trailers: Buffer | null, mapped?: Buffer): SendFileResult | Promise<SendFileResult> | undefined {
  if (!nothingQueued(socket) || isTls(socket)) return undefined;
  const fd = socketFd(socket);
  if (fd === undefined || !reserveNow(socket, count + head.length + (trailers?.length ?? 0), false)) return undefined;
  // An addon that takes no string (or not one this long) takes bytes.
  const headers = typeof head === 'string' && !(head.length <= (nativeCaps!.headBytes ?? -1)) ? Buffer.from(head, 'latin1') : head;
  // Counted, not refused, past the time budget: the request is read and
  // parsed already, and sendFile() would only cost it more. `mapped` holds
  // the range's bytes: with the head, one writev in place of two calls.
  const body = trailers === null && mapped?.length === count ? mapped : undefined;
  const now = timed(() => tryNow(fd, inFd, offset, count, headers, trailers, body));
  if (now.sent > 0) refreshIdleTimer(socket);
  if (now.done) return { bytesSent: now.sent, backend: now.backend };
  // The rest takes its place in the socket's queue, where nothing is ahead of it.
  const plan: TransferPlan = { offset: BigInt(offset), count: BigInt(count), headers: typeof headers === 'string' ? Buffer.from(headers, 'latin1') : headers, trailers, signal: undefined, backend: 'auto', onProgress: undefined, lease: false };
  const left = rest(plan, { offset: plan.offset, count: BigInt(count) }, now.sent);
  const options = { offset: left.range.offset, count: left.range.count, headers: left.plan.headers ?? undefined, trailers: left.plan.trailers ?? undefined };
  return sendFile(socket, inFd, options).then(
    (r) => ({ bytesSent: now.sent + r.bytesSent, backend: r.backend }),
    (error: TransferError) => {
      throw Object.assign(error, { bytesSent: now.sent + (error.bytesSent ?? 0) });
    },
  );
}

// A system call costs more than copying a few pages (several microseconds
// on a virtual machine against well under one): a small file sent from a
// mapping goes with its head in one writev, where sendfile needs a second
// call for the head. Larger files stay zero-copy.
const MAPPED_MAX = 64 * 1024;

/**
 * A small file's bytes over a read-only mapping, for sendFileNow() to send
 * many times; undefined for a larger file or where mappings cannot be had.
 * Keep it away from JavaScript reads: see NativeBinding.mapFile.
 */
export function mapSmallFile(fd: number, size: number): Buffer | undefined {
  return canSendNow && size > 0 && size <= MAPPED_MAX ? binding!.mapFile?.(fd, size) : undefined;
}
