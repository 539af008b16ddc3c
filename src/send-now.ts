// The in-tick attempt: a small transfer to a TCP socket tried once,
// synchronously, by the addon's sendNow, with the socket's own descriptor
// read in this tick (the socket is non-blocking, so it cannot wait). In the
// common case the socket takes it all and the transfer is over with no
// duplicate descriptor, no thread hand-off and no promise; what it cannot
// take, the driver sends (send-file.ts). sendFile() tries it for every small
// transfer whose turn has come; serving, for a response's head and body.
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import type { Backend, FileRange, TransferPlan } from './arguments.js';
import { streamDestroyed } from './errors.js';
import { binding, nativeCaps, nativeError } from './native.js';
import { isTcp, isTls, nothingQueued, refreshIdleTimer, socketFd } from './net-socket.js';
import { spendThisTurn, timed } from './turn.js';

// Its own ArrayBuffer: off the V8 heap, so the addon may keep a pointer to it.
const nowResult = new Float64Array(new ArrayBuffer(3 * Float64Array.BYTES_PER_ELEMENT));
binding?.setSendNowResult(nowResult);
const { EAGAIN, EFAULT } = osConstants.errno;

/** How far an attempt got: all of it (`done`), or `sent` bytes, by `backend`. */
export interface Attempt {
  done: boolean;
  sent: number;
  backend: Backend;
}

/**
 * Whether sendNow may take a transfer of `bytes` in all, and if so counts
 * them against this turn's budget (turn.ts): the addon is here, the bytes
 * are few, no lease is asked for (sendNow takes none), and the socket is
 * TCP. Only TCP: a net.Socket can also stand for a pipe or a terminal
 * (process.stdout), whose descriptor need not be non-blocking; a Transfer
 * makes those non-blocking for its duration.
 */
export function reserveNow(socket: Socket, bytes: number, lease: boolean): boolean {
  if (!binding || lease || !isTcp(socket) || bytes > nativeCaps!.inlineBytes) return false;
  return spendThisTurn(bytes);
}

/**
 * One synchronous attempt with the socket's descriptor `fd`, read in this
 * tick. `mapped`, the range's bytes over a mapping, goes with the headers
 * in one writev in place of a sendfile. Throws when the socket or the file
 * failed.
 */
export function tryNow(fd: number, inFd: number, offset: number, count: number, headers: Buffer | string | null, trailers: Buffer | null, mapped?: Buffer): Attempt {
  const call = binding!.sendNow(fd, nativeCaps!.outputKinds.tcp, inFd, offset, mapped ? 0 : count, headers, trailers, mapped);
  let [result, sent, backendIndex] = nowResult;
  // The mapping reaches past a file truncated since: the kernel says EFAULT.
  if (mapped && result === EFAULT) result = nativeCaps!.truncatedErrno;
  if (result !== 0 && result !== EAGAIN) throw nativeError(result, call ?? '', sent, BigInt(offset) + BigInt(count), () => streamDestroyed(sent));
  return { done: result === 0, sent, backend: mapped ? 'mmap' : nativeCaps!.backends[backendIndex].name };
}

/** What is left of a transfer of `range` after its first `sent` bytes: the plan of the rest, and its range. */
export function rest(plan: TransferPlan, range: FileRange, sent: number): { plan: TransferPlan; range: FileRange } {
  const headers = plan.headers?.length ?? 0;
  const fromFile = BigInt(Math.min(Math.max(sent - headers, 0), Number(range.count)));
  const fromTrailers = Math.max(sent - headers - Number(range.count), 0);
  const left = { offset: range.offset + fromFile, count: range.count - fromFile };
  return {
    plan: {
      ...plan,
      ...left,
      headers: sent < headers ? plan.headers!.subarray(sent) : null,
      trailers: fromTrailers > 0 ? plan.trailers!.subarray(fromTrailers) : plan.trailers,
    },
    range: left,
  };
}

/**
 * Serving's attempt: `count` bytes of an open file from `offset`, with a
 * response head (the latin1 string node:http renders, or bytes) and
 * trailers, on a socket with nothing queued ahead of it. Undefined, having
 * sent nothing, when it does not apply (TLS, something queued, too many
 * bytes for this turn). Counted against the turn's time, not refused past
 * it: the request is read and parsed already, and waiting would only cost it more.
 */
export function sendResponseNow(socket: Socket, inFd: number, offset: number, count: number, head: Buffer | string, trailers: Buffer | null, mapped?: Buffer): Attempt | undefined {
  if (!nothingQueued(socket) || isTls(socket)) return undefined;
  const fd = socketFd(socket);
  if (fd === undefined || !reserveNow(socket, count + head.length + (trailers?.length ?? 0), false)) return undefined;
  // A head longer than the addon copies goes as bytes.
  const headers = typeof head === 'string' && head.length > nativeCaps!.headBytes ? Buffer.from(head, 'latin1') : head;
  const now = timed(() => tryNow(fd, inFd, offset, count, headers, trailers, mapped));
  if (now.sent > 0) refreshIdleTimer(socket);
  return now;
}
