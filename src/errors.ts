// Errors shaped like Node's own: a `code` users can switch on, and for
// system errors `errno` and `syscall` as well.
import { getSystemErrorMap, getSystemErrorName, inspect } from 'node:util';

export interface TransferError extends Error {
  code?: string;
  /** Bytes of headers, file and trailers that reached the output before the failure. */
  bytesSent?: number;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return `Received ${value}`;
  if (typeof value === 'function') return `Received function ${value.name || '<anonymous>'}`;
  if (typeof value === 'object') {
    const name = (value as object).constructor?.name;
    return name ? `Received an instance of ${name}` : `Received ${inspect(value, { depth: -1 })}`;
  }
  return `Received type ${typeof value} (${inspect(value).slice(0, 25)})`;
}

function withCode<E extends Error>(error: E, code: string): E & { code: string } {
  return Object.assign(error, { code });
}

export function invalidArgType(name: string, expected: string, value: unknown): TypeError {
  return withCode(new TypeError(`The "${name}" argument must be ${expected}. ${describe(value)}`), 'ERR_INVALID_ARG_TYPE');
}

export function invalidArgValue(name: string, value: unknown, reason: string): TypeError {
  return withCode(
    new TypeError(`The argument '${name}' ${reason}. Received ${inspect(value).slice(0, 60)}`),
    'ERR_INVALID_ARG_VALUE',
  );
}

export function outOfRange(name: string, range: string, value: unknown): RangeError {
  return withCode(
    new RangeError(`The value of "${name}" is out of range. It must be ${range}. Received ${inspect(value)}`),
    'ERR_OUT_OF_RANGE',
  );
}

export function fileTruncated(detail: string, bytesSent?: number): TransferError {
  const error = withCode(new Error(`The file is shorter than the range to send: ${detail}`), 'ERR_FILE_TRUNCATED');
  return bytesSent === undefined ? error : Object.assign(error, { bytesSent });
}

export function streamDestroyed(bytesSent?: number): TransferError {
  const error = withCode(new Error('The socket was destroyed before the transfer finished'), 'ERR_STREAM_DESTROYED');
  return bytesSent === undefined ? error : Object.assign(error, { bytesSent });
}

export class AbortError extends Error {
  readonly code = 'ABORT_ERR';
  bytesSent?: number;
  constructor(cause?: unknown, bytesSent?: number) {
    super('The operation was aborted', cause === undefined ? undefined : { cause });
    this.name = 'AbortError';
    if (bytesSent !== undefined) this.bytesSent = bytesSent;
  }
}

/** A socket whose writable side had ended, as Node says of a write after end(). */
export function writeAfterEnd(): Error & { code: string } {
  return withCode(new Error('write after end'), 'ERR_STREAM_WRITE_AFTER_END');
}

/** A stream that closed before its end: `what` says which, as "The connection closed before ...". */
export function prematureClose(what: string): Error & { code: string } {
  return withCode(new Error(what), 'ERR_STREAM_PREMATURE_CLOSE');
}

/** An error for a failed system call, from a positive errno as C sees it. */
export function systemError(errno: number, syscall: string, bytesSent?: number): TransferError {
  const code = getSystemErrorName(-errno);
  const description = getSystemErrorMap().get(-errno)?.[1] ?? 'unknown error';
  const error = Object.assign(new Error(`${code}: ${description}, ${syscall}`), {
    errno: -errno,
    code,
    syscall,
  });
  return bytesSent === undefined ? error : Object.assign(error, { bytesSent });
}

/** Adds `bytesSent` to an error thrown by Node itself. */
export function withBytesSent(error: unknown, bytesSent: number): TransferError {
  if (error instanceof Error) {
    (error as TransferError).bytesSent ??= bytesSent;
    return error;
  }
  return Object.assign(new Error(String(error)), { bytesSent });
}

/** A receive whose input ended before the `count` bytes it was asked for. */
export function endedEarly(bytesReceived: number, count: bigint): Error & { code: string; bytesReceived: number } {
  const error = withCode(new Error(`The input ended after ${bytesReceived} of the ${count} bytes to receive`), 'ERR_STREAM_PREMATURE_CLOSE');
  return Object.assign(error, { bytesReceived });
}
