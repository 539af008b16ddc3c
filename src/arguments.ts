// sendFile's arguments: everything a caller can get wrong is caught here,
// before anything is opened or sent, and turned into the output, the input
// and the plan of the transfer.
import { Socket } from 'node:net';
import type { FileHandle } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { fileURLToPath } from 'node:url';
import { invalidArgType, invalidArgValue, outOfRange, systemError } from './errors.js';

export type Chunk = string | ArrayBufferView;

/**
 * Every backend's name on some system: `sendfile` (Linux, FreeBSD, macOS,
 * HP-UX), `sendfilev` (Solaris, illumos), `mmap` and `readwrite` (every Unix
 * build), `stream` (everywhere). `capabilities().backends` says which ones
 * this process has.
 */
export type Backend = 'sendfile' | 'sendfilev' | 'mmap' | 'readwrite' | 'stream';
export type Chunks = Chunk | readonly Chunk[];

export interface SendFileOptions {
  /** Where in the file to start; never the descriptor's current position. Default 0. */
  offset?: number | bigint;
  /** How many file bytes to send. Default: to the end of the file as it is at the call. */
  count?: number | bigint;
  /** Bytes sent before the file. Strings are UTF-8. */
  headers?: Chunks;
  /** Bytes sent after the file. Strings are UTF-8. */
  trailers?: Chunks;
  signal?: AbortSignal;
  /** `'auto'` (default) or one of `capabilities().backends`. */
  backend?: 'auto' | Backend;
  /** Called as the transfer moves, with the header, file and trailer bytes handed to the output so far. */
  onProgress?: (bytesSent: number) => void;
  /**
   * The mmap backend holds a read lease on the file where the kernel grants
   * one (`capabilities().leases`), so that another process opening it for
   * writing or truncating it stops the transfer with `ERR_FILE_TRUNCATED`
   * before the file changes. Default `false`.
   */
  lease?: boolean;
}

export type Output =
  | { kind: 'socket'; socket: Socket }
  | { kind: 'fd'; fd: number };

export type Input =
  | { kind: 'path'; path: string }
  | { kind: 'fd'; fd: number };

/** A range of a file, its count worked out. */
export interface FileRange {
  offset: bigint;
  count: bigint;
}

/** What to send, as the options asked for it; the file's size decides the rest. */
export interface TransferPlan {
  offset: bigint;
  count: bigint | undefined;
  headers: Buffer | null;
  trailers: Buffer | null;
  signal: AbortSignal | undefined;
  backend: string;
  onProgress: ((bytesSent: number) => void) | undefined;
  lease: boolean;
}

const MAX_OFFSET = (1n << 63n) - 1n;

function isFileHandle(value: unknown): value is FileHandle {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as FileHandle).fd === 'number' &&
    typeof (value as FileHandle).close === 'function' &&
    typeof (value as FileHandle).stat === 'function'
  );
}

/** A FileHandle's descriptor. A closed handle's is -1: EBADF, as for any closed descriptor. */
function handleFd(handle: FileHandle): number {
  if (handle.fd < 0) throw systemError(osConstants.errno.EBADF, 'fstat');
  return handle.fd;
}

export function checkFd(name: string, fd: number): number {
  if (!Number.isInteger(fd) || fd < 0 || fd > 0x7fffffff) throw outOfRange(name, '>= 0 && <= 2147483647', fd);
  return fd;
}

export function parseOutput(out: unknown): Output {
  if (out instanceof Socket) return { kind: 'socket', socket: out };
  if (typeof out === 'number') return { kind: 'fd', fd: checkFd('out', out) };
  if (isFileHandle(out)) return { kind: 'fd', fd: handleFd(out) };
  throw invalidArgType('out', 'an instance of net.Socket or FileHandle, or a file descriptor', out);
}

export function parseInput(input: unknown): Input {
  return parseFileArgument('input', input);
}

/** A file named by a path, a file: URL, a descriptor or a FileHandle: sendFile's input, receiveFile's output. */
export function parseFileArgument(name: string, value: unknown): Input {
  if (typeof value === 'number') return { kind: 'fd', fd: checkFd(name, value) };
  if (isFileHandle(value)) return { kind: 'fd', fd: handleFd(value) };
  let path: string;
  if (typeof value === 'string') {
    path = value;
  } else if (value instanceof URL) {
    if (value.protocol !== 'file:') throw invalidArgValue(name, value.href, 'must be a file: URL');
    path = fileURLToPath(value);
  } else {
    throw invalidArgType(name, 'of type string, an instance of URL or FileHandle, or a file descriptor', value);
  }
  if (path.length === 0) throw invalidArgValue(name, path, 'must be a non-empty path');
  if (path.includes('\0')) throw invalidArgValue(name, path, 'must be a string without null bytes');
  return { kind: 'path', path };
}

export function parseSize(name: string, value: unknown): bigint | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value) || value < 0) throw outOfRange(name, 'an integer >= 0 && <= 2^53 - 1', value);
    return BigInt(value);
  }
  if (typeof value === 'bigint') {
    if (value < 0n || value > MAX_OFFSET) throw outOfRange(name, '>= 0n && <= 2n ** 63n - 1n', value);
    return value;
  }
  throw invalidArgType(name, 'of type number or bigint', value);
}

function toBuffer(name: string, chunk: unknown): Buffer {
  if (typeof chunk === 'string') return Buffer.from(chunk, 'utf8');
  if (ArrayBuffer.isView(chunk)) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw invalidArgType(name, 'a string, an ArrayBufferView, or an array of them', chunk);
}

/** Joins the chunks into one buffer the transfer owns, so later changes by the caller cannot alter what is sent. */
function parseChunks(name: string, value: unknown): Buffer | null {
  if (value === undefined || value === null) return null;
  const parts = Array.isArray(value) ? value.map((c, i) => toBuffer(`${name}[${i}]`, c)) : [toBuffer(name, value)];
  const joined = Buffer.concat(parts);
  return joined.length === 0 ? null : joined;
}

export function parseOptions(options: unknown, backends: readonly string[]): TransferPlan {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw invalidArgType('options', 'of type object', options);
  const o = options as SendFileOptions;
  const offset = parseSize('options.offset', o.offset) ?? 0n;
  const count = parseSize('options.count', o.count);
  if (count !== undefined && offset + count > MAX_OFFSET) {
    throw outOfRange('options.count', `<= ${MAX_OFFSET - offset}n with this offset`, o.count);
  }
  const signal = o.signal;
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw invalidArgType('options.signal', 'an instance of AbortSignal', signal);
  }
  const backend = o.backend ?? 'auto';
  if (typeof backend !== 'string') throw invalidArgType('options.backend', 'of type string', backend);
  if (backend !== 'auto' && !backends.includes(backend)) {
    throw invalidArgValue('options.backend', backend, `must be 'auto' or one of ${backends.map((b) => `'${b}'`).join(', ')}`);
  }
  const onProgress = o.onProgress;
  if (onProgress !== undefined && typeof onProgress !== 'function') {
    throw invalidArgType('options.onProgress', 'of type function', onProgress);
  }
  const lease = o.lease ?? false;
  if (typeof lease !== 'boolean') throw invalidArgType('options.lease', 'of type boolean', lease);
  return {
    offset,
    count,
    onProgress,
    lease,
    headers: parseChunks('options.headers', o.headers),
    trailers: parseChunks('options.trailers', o.trailers),
    signal,
    backend,
  };
}
