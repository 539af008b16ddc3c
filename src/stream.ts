// The `stream` backend: fs reads and ordinary writes, for TLS sockets,
// sockets without a descriptor, and machines without the addon. Same
// contract as the native backends; the bytes pass through JavaScript.
// Serving uses its reading loop too, to write through an HTTP/2 or wrapped
// response.
import { read, write } from 'node:fs';
import type { Socket } from 'node:net';
import { promisify } from 'node:util';
import type { TransferPlan } from './arguments.js';
import { AbortError, fileTruncated, withBytesSent } from './errors.js';
import { closedError, type RawWriter } from './net-socket.js';

/**
 * The reads' size: from CHUNK_MIN, growing with what has gone out to a
 * quarter of it, up to STREAM_CHUNK. An output that keeps up soon gets
 * large reads (fewer calls per byte: 1 MiB moved 16 MiB over TLS and
 * HTTP/2 fastest); one that stops reading holds two small chunks, not
 * two large ones, however many such clients there are.
 */
export const STREAM_CHUNK = 1024 * 1024;
const CHUNK_MIN = 64 * 1024;

const chunkSize = (sent: number) => Math.min(STREAM_CHUNK, Math.max(CHUNK_MIN, Math.floor(sent / 4)));

const readAt = (fd: number, buffer: Buffer, offset: number, length: number, position: bigint) =>
  new Promise<number>((resolve, reject) =>
    read(fd, buffer, offset, length, position, (error, bytesRead) => (error ? reject(error) : resolve(bytesRead))),
  );
const writeAsync = promisify(write);

export interface StreamJob {
  fd: number;
  offset: bigint;
  count: bigint;
  headers: Buffer | null;
  trailers: Buffer | null;
  /** Writes the buffers in order; settles when the output has taken them. */
  write(chunks: Buffer[]): Promise<void>;
  /** Called as bytes go out, with the running total. */
  progress(sent: number): void;
}

async function readChunk(fd: number, position: bigint, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const bytesRead = await readAt(fd, buffer, filled, length - filled, position + BigInt(filled));
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return filled === length ? buffer : buffer.subarray(0, filled);
}

/** Sends headers, the file range and trailers; resolves with the bytes sent. */
export async function sendStream(job: StreamJob, sentSoFar: { value: number }): Promise<number> {
  let position = job.offset;
  let left = job.count;
  const end = job.offset + job.count;
  // One chunk is read ahead while the previous one is being written.
  const readNext = (sent: number) => {
    if (left === 0n) return null;
    const size = chunkSize(sent);
    const length = Number(left < BigInt(size) ? left : BigInt(size));
    const chunk = readChunk(job.fd, position, length);
    chunk.catch(() => {}); // read errors surface when awaited; a write error may come first
    return { chunk, length };
  };
  let next = readNext(0);
  let pendingHeaders = job.headers;
  const send = async (out: Buffer[]) => {
    const bytes = out.reduce((n, b) => n + b.length, 0);
    if (bytes > 0) await job.write(out);
    sentSoFar.value += bytes;
    job.progress(sentSoFar.value);
  };
  try {
    for (;;) {
      const out: Buffer[] = [];
      if (pendingHeaders) out.push(pendingHeaders);
      pendingHeaders = null;
      if (next) {
        const chunk = await next.chunk;
        const short = chunk.length < next.length;
        position += BigInt(chunk.length);
        left -= BigInt(chunk.length);
        out.push(chunk);
        if (short) {
          // The file was cut short since: what it still holds goes, as the
          // native backends send up to the new end, and that is the error.
          next = null;
          await send(out);
          throw fileTruncated(`it ended at byte ${position}, before ${end}`, sentSoFar.value);
        }
        next = readNext(sentSoFar.value + chunk.length);
      }
      // Small files leave in one write: headers, body and trailers together.
      if (!next && job.trailers) out.push(job.trailers);
      await send(out);
      if (!next) return sentSoFar.value;
    }
  } finally {
    // The caller closes the input once we settle: a read still queued on the
    // threadpool would then read whatever descriptor took over its number.
    await next?.chunk.catch(() => {});
  }
}

/** A writer for a descriptor: a regular file, pipe or socket not owned by Node. */
export function fdWriter(fd: number): (chunks: Buffer[]) => Promise<void> {
  return async (chunks) => {
    for (let chunk of chunks) {
      while (chunk.length > 0) {
        try {
          const { bytesWritten } = await writeAsync(fd, chunk, 0, chunk.length, null);
          chunk = chunk.subarray(bytesWritten);
        } catch (error) {
          // A non-blocking pipe that is full: try again shortly.
          if ((error as NodeJS.ErrnoException).code !== 'EAGAIN') throw error;
          await new Promise((resolve) => setTimeout(resolve, 2));
        }
      }
    }
  };
}

/** What a write can wait on: an output that says when it closed, and when it has room again. */
export interface WaitableOutput {
  once(event: 'close' | 'drain', listener: () => void): unknown;
  removeListener(event: 'close' | 'drain', listener: () => void): unknown;
}

/**
 * Starts a write with `start` and resolves once the output has taken it:
 * when `start` calls `settle`, or after 'drain' when `start` returns false
 * (a full stream buffer). The output closing or the signal aborting ends the
 * wait early with their error. Both of our writers through Node streams wait
 * this way: the socket writer below and serving's response writer.
 */
export function writeAndWait(
  output: WaitableOutput,
  gone: () => boolean,
  signal: AbortSignal | undefined,
  errors: { closed(): Error; aborted(): Error },
  start: (settle: (error?: Error | null) => void) => boolean | void,
): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) return reject(errors.aborted());
    if (gone()) return reject(errors.closed());
    let settled = false;
    const settle = (error?: Error | null) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', onAbort);
      output.removeListener('close', onClose);
      output.removeListener('drain', onDrain);
      if (error) reject(error);
      else resolve();
    };
    const onAbort = () => settle(errors.aborted());
    const onClose = () => settle(errors.closed());
    const onDrain = () => settle();
    signal?.addEventListener('abort', onAbort, { once: true });
    output.once('close', onClose);
    if (start(settle) === false && !settled) output.once('drain', onDrain);
  });
}

export type StreamOutput = { kind: 'socket'; socket: Socket; raw: RawWriter } | { kind: 'fd'; fd: number };

/** Runs a whole transfer on the stream backend; resolves with the bytes sent. */
export function streamTransfer(
  output: StreamOutput,
  input: { fd: number; offset: bigint; count: bigint },
  plan: TransferPlan,
  progress: (bytesSent: number) => void,
): Promise<number> {
  const sent = { value: 0 };
  const { signal } = plan;
  let write: (chunks: Buffer[]) => Promise<void>;
  if (output.kind === 'socket') {
    const { socket, raw } = output;
    // Each write settles when the socket has handed it to the kernel (or to
    // TLS): that is the back-pressure.
    const errors = { closed: () => closedError(socket, sent.value), aborted: () => new AbortError(signal?.reason, sent.value) };
    write = (chunks) =>
      writeAndWait(socket, () => socket.destroyed, signal, errors, (settle) =>
        raw.write(chunks, (error) => {
          // A write that destroy() cancelled completes without an error
          // (Node 20) or with ECANCELED (Node 22 and later); either way its
          // bytes did not all reach the kernel, so they are not counted.
          if (socket.destroyed) return settle(errors.closed());
          settle(error && withBytesSent(error, sent.value));
        }),
      );
  } else {
    const writeFd = fdWriter(output.fd);
    write = async (chunks) => {
      if (signal?.aborted) throw new AbortError(signal.reason, sent.value);
      await writeFd(chunks);
    };
  }
  return sendStream({ ...input, headers: plan.headers, trailers: plan.trailers, write, progress }, sent).catch((error) => {
    throw withBytesSent(error, sent.value);
  });
}
