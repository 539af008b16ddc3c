// Running a receive or a relay in the addon (native/node/flow.cc): the Flow
// object, stopped by the caller's signal, by a socket's close (our
// duplicates of its descriptor would keep the connection open) or by an
// idle timer, and its outcome as the addon reports it. receive-file.ts and
// relay.ts turn the outcome into their results and errors.
import type { Socket } from 'node:net';
import { invalidArgType, invalidArgValue, systemError } from './errors.js';
import { binding, nativeCaps, type NativeFlow } from './native.js';
import { refreshIdleTimer } from './net-socket.js';

export interface FlowRun {
  mode: 'receive' | 'relay';
  /** Read in this tick from their sockets (see net-socket.ts's socketFd); the addon duplicates them. */
  fds: [number, number];
  offset?: bigint;
  /** At most this many bytes from the input (receive). */
  count?: bigint;
  /** Bytes Node had read already, which go first: [to the second, to the first]. */
  pending: [Buffer | null, Buffer | null];
  /** Whether each socket's end of stream ends both ways (no allowHalfOpen). */
  endsBoth?: [boolean, boolean];
  /** The first descriptor (a relay's both) is a TCP socket of Node's: the addon need not ask. */
  tcp?: boolean;
  backend: string;
  signal?: AbortSignal;
  /** Sockets whose close stops the flow. */
  sockets: Socket[];
  /** Milliseconds without a byte moving either way that end it; none when undefined. */
  idleTimeout?: number;
  onProgress?: (moved: number) => void;
}

export interface FlowEnd {
  /** 0, the addon's cancelled code (see `why`), or the errno of the call that failed. */
  errno: number;
  syscall: string;
  /** Bytes written each way: [from the first, from the second]. */
  moved: [number, number];
  /** The flow that failed. */
  failed: number;
  /** Bytes the first flow took from its input, written or held when it stopped. */
  taken: number;
  backend: string;
  /** What stopped a cancelled flow: the signal, a socket's close, or the idle timer. */
  why?: 'signal' | 'closed' | 'idle';
  /** The socket whose close stopped it. */
  closed?: Socket;
}

/** What the addon threw (a failed dup or fstat, a driver it could not start) as a system error. */
function addonError(error: unknown): Error {
  const e = error as { errno?: number; syscall?: string };
  return typeof e.errno === 'number' && e.errno > 0 ? systemError(e.errno, e.syscall ?? 'dup') : (error as Error);
}

/** Whether the addon here can run flows. */
export const canFlow = typeof binding?.Flow === 'function' && Array.isArray(nativeCaps?.movers);

/** The addon's code for a flow stopped by abort(). */
export const cancelledErrno = nativeCaps?.cancelledErrno;

/**
 * Starts the flow at once (the descriptors were read in this tick) and
 * resolves with its outcome, whatever it is. Throws what the addon throws
 * when it cannot start (a failed dup, a backend that cannot carry it).
 */
export function runFlow(run: FlowRun): Promise<FlowEnd> {
  return new Promise((resolve, reject) => {
    let why: FlowEnd['why'];
    let closed: Socket | undefined;
    let idle: NodeJS.Timeout | undefined;
    let lastMoved = 0;
    let lastChange = Date.now();
    const onAbort = () => {
      why ??= 'signal';
      flow.abort(false);
    };
    const closers = run.sockets.map((socket) => () => {
      why ??= 'closed';
      closed ??= socket;
      // Shut the connections down: our duplicates would keep them open.
      flow.abort(true);
    });
    const cleanup = () => {
      clearTimeout(idle);
      run.signal?.removeEventListener('abort', onAbort);
      run.sockets.forEach((socket, i) => socket.removeListener('close', closers[i]));
    };
    // Progress reports come at most every 100 ms while bytes move; the
    // timer also asks the addon, so a flow that moved since is not idle.
    const checkIdle = () => {
      const moved = flow.moved();
      if (moved !== lastMoved) {
        lastMoved = moved;
        lastChange = Date.now();
      }
      const left = lastChange + run.idleTimeout! - Date.now();
      if (left > 0) {
        idle = setTimeout(checkIdle, left).unref();
        return;
      }
      why ??= 'idle';
      flow.abort(false);
    };
    const progress = (moved: number) => {
      lastMoved = moved;
      lastChange = Date.now();
      for (const socket of run.sockets) refreshIdleTimer(socket);
      try {
        run.onProgress?.(moved);
      } catch (error) {
        // The caller's bug, reported as its own uncaught exception.
        process.nextTick(() => {
          throw error;
        });
      }
    };
    const done = (errno: number, syscall: string, movedA: number, movedB: number, failed: number, taken: number) => {
      cleanup();
      resolve({ errno, syscall, moved: [movedA, movedB], failed, taken, backend: flow.backend, why: errno === cancelledErrno ? why : undefined, closed });
    };
    const { offset = 0n, count = -1n, pending, endsBoth = [false, false] } = run;
    let flow: NativeFlow;
    try {
      flow = new binding!.Flow!(run.mode, run.fds[0], run.fds[1], offset, count, pending[0], pending[1], endsBoth[0], endsBoth[1], run.backend, progress, done, run.tcp ?? false);
    } catch (error) {
      return reject(addonError(error));
    }
    run.signal?.addEventListener('abort', onAbort, { once: true });
    run.sockets.forEach((socket, i) => socket.once('close', closers[i]));
    if (run.idleTimeout !== undefined) idle = setTimeout(checkIdle, run.idleTimeout).unref();
    try {
      flow.start();
    } catch (error) {
      // The addon could not start its driver (no descriptors left for its waiter).
      cleanup();
      reject(addonError(error));
    }
  });
}

/** The options receiveFile and relay share, parsed once. */
export interface FlowOptions {
  signal: AbortSignal | undefined;
  backend: string;
  onProgress: ((bytes: number) => void) | undefined;
}

/** Checks the options both calls take; `backends` are this direction's, best first, 'stream' last. */
export function parseFlowOptions(options: unknown, backends: readonly string[]): FlowOptions {
  const o = (options ?? {}) as { signal?: unknown; backend?: unknown; onProgress?: unknown };
  if (typeof o !== 'object') throw invalidArgType('options', 'of type object', options);
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) throw invalidArgType('options.signal', 'an instance of AbortSignal', o.signal);
  const backend = o.backend ?? 'auto';
  if (typeof backend !== 'string') throw invalidArgType('options.backend', 'of type string', backend);
  if (backend !== 'auto' && !backends.includes(backend)) {
    throw invalidArgValue('options.backend', backend, `must be 'auto' or one of ${backends.map((b) => `'${b}'`).join(', ')}`);
  }
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') throw invalidArgType('options.onProgress', 'of type function', o.onProgress);
  return { signal: o.signal, backend, onProgress: o.onProgress as FlowOptions['onProgress'] };
}

/** Every mover of this build that can carry `what`, best first, then 'stream'. */
export function flowBackends(what: 'toFile' | 'socketToSocket'): string[] {
  return [...(nativeCaps?.movers?.filter((m) => m[what]).map((m) => m.name) ?? []), 'stream'];
}
