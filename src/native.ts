// Loads the addon, once, and says honestly whether it could.
import { createRequire } from 'node:module';
import type { Backend } from './arguments.js';
import { fileTruncated, systemError, type TransferError } from './errors.js';
import { packageRoot } from './package-root.js';

export interface NativeTransfer {
  /** The backend carrying the transfer, resolved from 'auto' by the addon. */
  readonly backend: Backend;
  start(): void;
  /** Stops the transfer; with `shutdown`, also shuts the output socket down. */
  abort(shutdown: boolean): void;
}

/** A receive or a relay run by the addon's driver thread (native/node/flow.cc). */
export interface NativeFlow {
  /** The mover carrying the (first) flow, resolved from 'auto' by the addon. */
  readonly backend: string;
  start(): void;
  /** Stops the flows; with `shutdown`, also shuts their sockets down. */
  abort(shutdown: boolean): void;
  /** Bytes moved so far, every way together. */
  moved(): number;
}

export interface NativeBinding {
  /**
   * `receive`: from fdA (a socket, pipe or device) into fdB at `offset`, at
   * most `count` bytes (-1n: to the end), `pendingA` first. `relay`: both
   * ways between sockets fdA and fdB, `pendingA` (read from a) to b first
   * and `pendingB` to a; `endsBothA`: a's end of stream ends both ways.
   * onDone gets the bytes each flow wrote, on failure which flow failed,
   * and the bytes the first flow took from its input (written or held).
   */
  Flow?: new (
    mode: 'receive' | 'relay',
    fdA: number,
    fdB: number,
    offset: bigint,
    count: bigint,
    pendingA: Buffer | null,
    pendingB: Buffer | null,
    endsBothA: boolean,
    endsBothB: boolean,
    backend: string,
    onProgress: (moved: number) => void,
    onDone: (errno: number, syscall: string, movedA: number, movedB: number, failed: number, takenA: number) => void,
    /** fdA (and for a relay fdB) is a TCP socket of Node's: known, and non-blocking. */
    tcp?: boolean,
  ) => NativeFlow;
  Transfer: new (
    outFd: number,
    inFd: number,
    offset: bigint,
    count: bigint,
    headers: Buffer | null,
    trailers: Buffer | null,
    backend: string,
    /** Whether the mmap backend takes a read lease on the input. */
    lease: boolean,
    onProgress: (sent: number) => void,
    onDone: (errno: number, syscall: string, sent: number) => void,
  ) => NativeTransfer;
  /**
   * A small transfer tried once, synchronously, with the caller's own
   * descriptors (read in this tick). Stores [result, bytes sent, index of
   * the backend in capabilities().backends] in the array given to
   * setSendNowResult; result is 0 (done), EAGAIN (the rest must wait),
   * truncatedErrno or an errno. Returns the failing call's name. With
   * `body` (file bytes from mapFile), headers and body go in one writev,
   * and count is 0. `headers` may be a latin1 string of at most headBytes
   * characters (a response head as node:http renders it).
   */
  sendNow(outFd: number, outKind: number, inFd: number, offset: number, count: number, headers: Buffer | string | null, trailers: Buffer | null, body?: Buffer): string | undefined;
  /**
   * The file's first `length` bytes, mapped read-only and shared, unmapped
   * when collected; undefined when it cannot be had. For the kernel to read
   * (sendNow's body) and never JavaScript: past a truncated file's end a
   * read would be SIGBUS, where the kernel says EFAULT.
   */
  mapFile(fd: number, length: number): Buffer | undefined;
  setSendNowResult(result: Float64Array): void;
  /**
   * Opens `path` (relative) below the folder `root` without leaving it, on
   * the threadpool: `done(0, fd)`, or `done(errno, -1)` with EXDEV for a
   * path or link that would leave the root and ELOOP for a link met with
   * `noSymlinks`. The descriptor is non-blocking and close-on-exec.
   */
  openBeneath(root: string, path: string, noSymlinks: boolean, done: (errno: number, fd: number) => void): void;
  capabilities(): {
    backends: { name: Backend; zeroCopy: boolean; headersTrailers: 'vector' | 'cork' | 'copy' }[];
    headersTrailers: 'vector' | 'cork' | 'copy';
    /** Whether the mmap backend can take read leases (for transfers that ask). */
    leases: boolean;
    maxChunk: number;
    truncatedErrno: number;
    cancelledErrno: number;
    /** Output kinds as the addon numbers them, for sendNow. */
    outputKinds: { tcp: number };
    /** Most bytes sendNow takes in one call. */
    inlineBytes: number;
    /** The longest head sendNow takes as a string. */
    headBytes: number;
    /** The readiness interface the driver waits with. */
    waiter: string;
    /** The movers for receiving and relaying, best first (absent from builds before them). */
    movers?: { name: string; zeroCopy: boolean; toFile: boolean; socketToSocket: boolean }[];
  };
}

function load(): { binding?: NativeBinding; loadError?: string } {
  if (process.env.ZEROCOPY_DISABLE_NATIVE) {
    return { loadError: 'disabled by the ZEROCOPY_DISABLE_NATIVE environment variable' };
  }
  try {
    const require = createRequire(__filename);
    // A specific build of the addon, such as one compiled against another
    // system's syscall shim for the tests.
    const addon = process.env.ZEROCOPY_ADDON;
    if (addon) return { binding: require(addon) as NativeBinding };
    const nodeGypBuild = require('node-gyp-build') as (dir: string) => NativeBinding;
    return { binding: nodeGypBuild(packageRoot) };
  } catch (error) {
    return { loadError: error instanceof Error ? error.message : String(error) };
  }
}

export const { binding, loadError } = load();

/** What the addon offers on this system, asked once. */
export const nativeCaps = binding?.capabilities();

/**
 * What a native transfer's failed outcome means to the caller: a system
 * call's errno, the addon's "truncated" code, or its "cancelled" code, which
 * `cancelled` explains (the signal's abort, or the socket's close).
 */
export function nativeError(errno: number, syscall: string, bytesSent: number, rangeEnd: bigint, cancelled: () => TransferError): TransferError {
  if (errno === nativeCaps?.cancelledErrno) return cancelled();
  if (errno === nativeCaps?.truncatedErrno) return fileTruncated(`it ended before byte ${rangeEnd}`, bytesSent);
  return systemError(errno, syscall, bytesSent);
}
