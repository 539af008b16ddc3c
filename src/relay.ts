// relay(): both directions between two connected sockets until both have
// ended, without the bytes entering JavaScript where the addon can carry
// them: Linux splices each direction through a pipe, FreeBSD and OpenBSD
// splice the sockets in the kernel (SO_SPLICE), other systems copy on the
// driver thread. TLS sockets and machines without the addon take the
// stream path, with the same result. Either way both sockets are
// destroyed when the relay settles: both directions are over by then.
import { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import { AbortError, invalidArgType, invalidArgValue, systemError, writeAfterEnd } from './errors.js';
import { canFlow, cancelledErrno, flowBackends, parseFlowOptions, runFlow, type FlowEnd, type FlowOptions } from './flow.js';
import { closedError, connected, enqueue, isTcp, isTls, nothingQueued, refreshIdleTimer, socketFd, takeBuffered, takeReadSide } from './net-socket.js';

/** `splice` (Linux), `sosplice` (FreeBSD, OpenBSD), `readwrite` (the driver thread copies) or `stream` (through JavaScript). */
export type RelayBackend = 'splice' | 'sosplice' | 'readwrite' | 'stream';

export interface RelayOptions {
  signal?: AbortSignal;
  /** Milliseconds without a byte moving either way after which the relay ends with `ETIMEDOUT`. Default: none. */
  idleTimeout?: number;
  /** `'auto'` (default) or one of `capabilities().relay.backends`. */
  backend?: 'auto' | RelayBackend;
  /** Called as bytes move, with the bytes relayed so far both ways together. */
  onProgress?: (bytes: number) => void;
}

export interface RelayResult {
  /** Bytes delivered from a to b. */
  aToB: number;
  /** Bytes delivered from b to a. */
  bToA: number;
  backend: RelayBackend;
}

/** An error of a relay, with the bytes each way before it. */
export type RelayError = Error & { code?: string; aToB?: number; bToA?: number };

interface Plan extends FlowOptions {
  idleTimeout: number | undefined;
}

/** Every backend relay has here, best first; `stream` last. */
export const relayBackends: readonly string[] = flowBackends('socketToSocket');

function parsePlan(options: unknown): Plan {
  const flow = parseFlowOptions(options, relayBackends);
  const idle = (options as RelayOptions | undefined)?.idleTimeout;
  if (idle !== undefined && (typeof idle !== 'number' || !(idle >= 0) || !Number.isFinite(idle))) {
    throw typeof idle === 'number' ? invalidArgValue('options.idleTimeout', idle, 'must be a finite number >= 0') : invalidArgType('options.idleTimeout', 'of type number', idle);
  }
  return { ...flow, idleTimeout: idle === 0 ? undefined : idle };
}

function withCounts<E extends Error>(error: E, aToB: number, bToA: number): E & RelayError {
  delete (error as { bytesSent?: number }).bytesSent;
  return Object.assign(error, { aToB, bToA });
}

function idleError(ms: number): Error {
  return Object.assign(systemError(osConstants.errno.ETIMEDOUT, 'relay'), { message: `ETIMEDOUT: no byte moved either way for ${ms} ms, relay` });
}

const ignore = () => {};

/**
 * Holds the socket's write queue once what was queued before has gone to
 * the kernel, until released. With nothing queued, a cork holds what is
 * written meanwhile, at no cost for the relay's start.
 */
function hold(socket: Socket): { ready: Promise<void>; release(): void } {
  if (nothingQueued(socket)) {
    socket.cork();
    return { ready: Promise.resolve(), release: () => {} };
  }
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const ready = new Promise<void>((resolve, reject) => {
    enqueue(socket, () => {
      resolve();
      return released;
    }).catch(reject);
  });
  return { ready, release };
}

function settle(end: FlowEnd, plan: Plan): RelayResult {
  const [aToB, bToA] = end.moved;
  if (end.errno === 0) return { aToB, bToA, backend: end.backend as RelayBackend };
  let error: Error;
  if (end.errno === cancelledErrno && end.why === 'signal') error = new AbortError(plan.signal?.reason);
  else if (end.errno === cancelledErrno && end.why === 'idle') error = idleError(plan.idleTimeout!);
  else if (end.errno === cancelledErrno && end.closed) error = closedError(end.closed, 0);
  else error = systemError(end.errno, end.syscall);
  throw withCounts(error, aToB, bToA);
}

async function nativeRelay(a: Socket, b: Socket, plan: Plan): Promise<RelayResult> {
  // What the caller wrote to either socket goes first; later writes wait.
  const holds = [hold(a), hold(b)];
  try {
    await Promise.all(holds.map((h) => h.ready));
    if (plan.signal?.aborted) throw new AbortError(plan.signal.reason);
    // One tick: the descriptors, the bytes Node read from each, the flows.
    const fds: [number, number] = [socketFd(a)!, socketFd(b)!];
    takeReadSide(a);
    takeReadSide(b);
    const pending = [a, b].map((s) => {
      const chunks = takeBuffered(s);
      return chunks.length === 0 ? null : Buffer.concat(chunks);
    }) as [Buffer | null, Buffer | null];
    const end = await runFlow({
      mode: 'relay',
      fds,
      pending,
      endsBoth: [!a.allowHalfOpen, !b.allowHalfOpen],
      tcp: isTcp(a) && isTcp(b),
      backend: plan.backend,
      signal: plan.signal,
      sockets: [a, b],
      idleTimeout: plan.idleTimeout,
      onProgress: plan.onProgress,
    });
    return settle(end, plan);
  } finally {
    for (const h of holds) h.release();
  }
}

/**
 * Both directions through JavaScript, as a.pipe(b) and b.pipe(a) would,
 * with the relay's rules: an end is passed on as end(); a socket without
 * allowHalfOpen ends both directions at its end; an error, a close or the
 * signal ends both.
 */
function streamRelay(a: Socket, b: Socket, plan: Plan): Promise<RelayResult> {
  return new Promise((resolve, reject) => {
    const sockets = [a, b];
    const counts = [0, 0];
    const stopped = [false, false]; // direction i (from sockets[i]) reads no more
    const removers: (() => void)[] = [];
    let settled = false;
    let last = Date.now();
    let idle: NodeJS.Timeout | undefined;
    const on = (target: Socket, event: string, listener: (...args: any[]) => void) => {
      target.on(event, listener);
      removers.push(() => target.removeListener(event, listener));
    };
    const finish = (error?: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(idle);
      plan.signal?.removeEventListener('abort', onAbort);
      for (const remove of removers) remove();
      if (error) reject(withCounts(error, counts[0], counts[1]));
      else resolve({ aToB: counts[0], bToA: counts[1], backend: 'stream' });
    };
    const onAbort = () => finish(new AbortError(plan.signal?.reason));
    const finishedBoth = () => {
      if (stopped[0] && stopped[1] && a.writableFinished && b.writableFinished) finish();
    };
    // Direction i is over: nothing more is read from its source, and its
    // destination is ended once it has written what it was given.
    const stop = (i: number) => {
      if (stopped[i]) return;
      stopped[i] = true;
      sockets[i].pause();
      sockets[1 - i].end(finishedBoth);
    };
    for (const i of [0, 1]) {
      const from = sockets[i];
      const to = sockets[1 - i];
      on(from, 'data', (chunk: Buffer) => {
        if (stopped[i]) return;
        counts[i] += chunk.length;
        last = Date.now();
        refreshIdleTimer(to);
        plan.onProgress?.(counts[0] + counts[1]);
        if (!to.write(chunk)) from.pause();
      });
      on(to, 'drain', () => {
        if (!stopped[i]) from.resume();
      });
      on(from, 'end', () => {
        stop(i);
        // Node ends such a socket itself at its end: the way toward it is over too.
        if (!from.allowHalfOpen) stop(1 - i);
      });
      on(from, 'error', (error: Error) => finish(error));
      // Closed once both ways are over and its writes are done: Node's
      // autoDestroy, the end of the relay. Before: the relay fails.
      on(from, 'close', () => (stopped[0] && stopped[1] && from.writableFinished ? finishedBoth() : finish(closedError(from, 0))));
    }
    plan.signal?.addEventListener('abort', onAbort, { once: true });
    if (plan.idleTimeout !== undefined) {
      const check = () => {
        const left = last + plan.idleTimeout! - Date.now();
        if (left > 0) idle = setTimeout(check, left).unref();
        else finish(idleError(plan.idleTimeout!));
      };
      idle = setTimeout(check, plan.idleTimeout).unref();
    }
    for (const i of [0, 1]) {
      if (sockets[i].readableEnded) stop(i);
      else sockets[i].resume();
    }
  });
}

/** Starts the relay once both sockets are connected, on the addon when it can carry both. */
async function start(a: Socket, b: Socket, plan: Plan): Promise<RelayResult> {
  await Promise.all([connected(a), connected(b)]);
  const gone = [a, b].find((s) => s.destroyed);
  if (gone) throw closedError(gone, 0);
  if (a.writableEnded || b.writableEnded) throw writeAfterEnd();
  if (plan.signal?.aborted) throw new AbortError(plan.signal.reason);
  const native = plan.backend !== 'stream' && canFlow && !isTls(a) && !isTls(b) && socketFd(a) !== undefined && socketFd(b) !== undefined;
  if (!native && plan.backend !== 'auto' && plan.backend !== 'stream') {
    throw invalidArgValue('options.backend', plan.backend, "cannot relay a socket without its own descriptor; use 'stream'");
  }
  return native ? nativeRelay(a, b, plan) : streamRelay(a, b, plan);
}

/**
 * Relays between two sockets, both ways, until both directions have
 * ended: an end of stream is passed on as a half-close; bytes Node had
 * read from either, and writes queued on either, go first and in order. A
 * socket still connecting is waited for. A reset, an error or a close on
 * either side ends both, with the bytes each way on the error (the
 * sockets' 'error' events are the relay's: it listens for them). Both
 * sockets are destroyed when it settles.
 */
export function relay(a: Socket, b: Socket, options?: RelayOptions): Promise<RelayResult> {
  let plan: Plan;
  try {
    if (!(a instanceof Socket)) throw invalidArgType('a', 'an instance of net.Socket', a);
    if (!(b instanceof Socket)) throw invalidArgType('b', 'an instance of net.Socket', b);
    if (a === b) throw invalidArgValue('b', '<the socket a>', 'must be another socket than a');
    plan = parsePlan(options);
    if (plan.backend !== 'auto' && plan.backend !== 'stream' && (isTls(a) || isTls(b))) {
      throw invalidArgValue('options.backend', plan.backend, "cannot relay a TLS socket: its descriptor carries the encrypted bytes; use 'stream'");
    }
  } catch (error) {
    return Promise.reject(error);
  }
  // The relay's own from here: a socket's error is its failure, reported
  // by its rejection, not an uncaught 'error' (one that never connected,
  // say); the listeners stay, as errors of a destroy are emitted later.
  a.on('error', ignore);
  b.on('error', ignore);
  // Over either way: both directions have ended, or one failed and so both do.
  const endBoth = () => {
    a.destroy();
    b.destroy();
  };
  return start(a, b, plan).then(
    (result) => {
      endBoth();
      return result;
    },
    (error: RelayError) => {
      endBoth();
      throw error.aToB === undefined ? withCounts(error, 0, 0) : error;
    },
  );
}
