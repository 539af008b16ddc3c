// `zerocopy send`: sendFile() to a TCP receiver from the shell, with the
// range, headers, trailers and backend given as options. What it prints lets
// the two ends be compared: the bytes, and the SHA-256 of exactly what was
// sent, which the receiver (zerocopy recv) prints too.
import { createHash } from 'node:crypto';
import type { Stats } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { capabilities, sendFile, type Backend, type SendFileResult } from '../index.js';
import { parse, parseAddress, parseBytes, parseEscapes, UsageError, wantsHelp } from './args.js';
import { failure } from './errors.js';
import { formatTransfer, print, Progress } from './output.js';
import { Interrupted, onInterrupt, signalNumber } from './signals.js';

export const sendHelp = `usage: zerocopy send FILE HOST:PORT [options]

Connects to HOST:PORT (an IPv6 address in brackets: [::1]:9000) and sends
FILE, or the range of it given, with sendFile(); then waits for the receiver
to close the connection, and prints
  sent N bytes in T s (X MB/s) via BACKEND sha256 H
where N counts headers, file bytes and trailers, MB are 10^6 bytes, and H is
the SHA-256 of exactly those bytes, for comparing with what the receiver
(zerocopy recv) prints. The checksum costs a second read of the range, made
after the transfer and not timed; --no-checksum skips it.

Options:
  --offset N       the first byte of FILE to send (default 0)
  --count N        how many bytes of FILE to send (default: to its end)
                   N: bytes, or with K, M, G or T (binary: 1M = 1048576)
  --header TEXT    bytes to send before the file: TEXT as UTF-8, with the
                   escapes \\n \\r \\t \\0 \\\\ and \\xHH (one byte) turned
                   into the bytes they stand for; repeat for more
  --trailer TEXT   bytes to send after the file, likewise
  --backend NAME   auto (default) or one of this machine's backends (see
                   zerocopy info)
  --no-checksum    do not compute the checksum
  -h, --help       this help

When stderr is a terminal, a transfer longer than a second shows its progress
there. Ctrl-C stops the transfer and exits 130.
`;

/** What the command line asks for, checked. */
interface SendRequest {
  path: string;
  host: string;
  port: number;
  offset: number;
  count: number | undefined;
  backend: 'auto' | Backend;
  headers: Buffer[];
  trailers: Buffer[];
  checksum: boolean;
}

function parseSendArgs(args: string[]): SendRequest {
  const { values, positionals } = parse(
    'send',
    args,
    {
      offset: { type: 'string' },
      count: { type: 'string' },
      header: { type: 'string', multiple: true },
      trailer: { type: 'string', multiple: true },
      backend: { type: 'string' },
      'no-checksum': { type: 'boolean' },
    },
    { min: 2, max: 2, names: ['FILE', 'HOST:PORT'] },
  );
  const [path, target] = positionals;
  const backends: string[] = capabilities().backends;
  const backend = (values.backend ?? 'auto') as 'auto' | Backend;
  if (backend !== 'auto' && !backends.includes(backend)) {
    throw new UsageError(`--backend: '${backend}' is not one of auto, ${backends.join(', ')}`, 'send');
  }
  return {
    path,
    ...parseAddress('send', target),
    offset: values.offset === undefined ? 0 : parseBytes('send', '--offset', values.offset),
    count: values.count === undefined ? undefined : parseBytes('send', '--count', values.count),
    backend,
    headers: (values.header ?? []).map((text) => parseEscapes('send', '--header', text)),
    trailers: (values.trailer ?? []).map((text) => parseEscapes('send', '--trailer', text)),
    checksum: !values['no-checksum'],
  };
}

/**
 * The file's size now and the range's count, refusing what sendFile would
 * refuse before anything connects, so that the receiver is not left with an
 * empty connection.
 */
async function checkRange(file: FileHandle, request: SendRequest): Promise<{ before: Stats; count: number }> {
  const { path, offset } = request;
  const before = await file.stat();
  if (before.isDirectory()) throw failure('EISDIR', `illegal operation on a directory, read '${path}'`);
  if (!before.isFile()) throw failure('ERR_INVALID_ARG_VALUE', `'${path}' is not a regular file`);
  const count = request.count ?? Math.max(0, before.size - offset);
  if (offset + count > before.size) {
    throw failure('ERR_FILE_TRUNCATED', `'${path}' holds ${before.size} bytes, the range ends at byte ${offset + count}`);
  }
  return { before, count };
}

/** Connects, sends, and waits for the receiver to close: the result and the seconds it took. */
async function transfer(file: FileHandle, request: SendRequest, count: number, signal: AbortSignal): Promise<{ result: SendFileResult; seconds: number }> {
  const { headers, trailers } = request;
  const socket = await connect(request.host, request.port, signal);
  let socketError: Error | undefined;
  socket.on('error', (error) => (socketError ??= error));
  let sentSoFar = 0;
  let bytesSent = 0;
  const progress = new Progress(() => sentSoFar, byteLength(headers) + count + byteLength(trailers)).start();
  const started = performance.now();
  try {
    const result = await sendFile(socket, file, { offset: request.offset, count, headers, trailers, backend: request.backend, signal, onProgress: (bytes) => (sentSoFar = bytes) });
    bytesSent = result.bytesSent;
    // Done when the receiver has read everything and closed its end.
    await endAndClose(socket, signal);
    if (socketError) throw socketError;
    return { result, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    throw Object.assign(error as Error, { bytesSent: (error as { bytesSent?: number }).bytesSent ?? bytesSent });
  } finally {
    progress.stop();
    socket.destroy();
  }
}

export async function sendCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(sendHelp);
  const request = parseSendArgs(args);
  const file = await open(request.path, 'r');
  const controller = new AbortController();
  let interrupted: NodeJS.Signals | undefined;
  const removeInterrupt = onInterrupt((signal) => {
    interrupted = signal;
    controller.abort(new Interrupted(signal));
  });
  try {
    const { before, count } = await checkRange(file, request);
    const { result, seconds } = await transfer(file, request, count, controller.signal);
    removeInterrupt();
    let line = `sent ${formatTransfer(result.bytesSent, seconds)} via ${result.backend}`;
    if (request.checksum) line += ` sha256 ${await checksumAfter(file, request, count, before)}`;
    process.stdout.write(`${line}\n`);
    return 0;
  } catch (error) {
    if (!interrupted) throw error;
    const sent = (error as { bytesSent?: number }).bytesSent ?? 0;
    process.stderr.write(`zerocopy: interrupted${sent > 0 ? ` after ${sent} bytes` : ''}\n`);
    return signalNumber(interrupted);
  } finally {
    removeInterrupt();
    await file.close();
  }
}

/** The checksum of what was sent, read again from the file, warning when the file changed meanwhile. */
async function checksumAfter(file: FileHandle, request: SendRequest, count: number, before: Stats): Promise<string> {
  const digest = await checksum(file, request.offset, count, request.headers, request.trailers);
  const after = await file.stat();
  if (after.mtimeMs !== before.mtimeMs || after.size !== before.size) {
    process.stderr.write(`zerocopy: warning: '${request.path}' changed while it was sent; the checksum may not match what was sent\n`);
  }
  return digest;
}

function byteLength(chunks: Buffer[]): number {
  return chunks.reduce((sum, chunk) => sum + chunk.length, 0);
}

function connect(host: string, port: number, signal: AbortSignal): Promise<Socket> {
  return new Promise((done, fail) => {
    const socket = netConnect({ host, port, signal });
    socket.once('error', fail);
    socket.once('connect', () => {
      socket.removeListener('error', fail);
      done(socket);
    });
  });
}

/** Ends the socket and waits for the peer to close its side (whatever it sends meanwhile is discarded). */
function endAndClose(socket: Socket, signal: AbortSignal): Promise<void> {
  return new Promise((done, fail) => {
    const onAbort = () => fail(signal.reason);
    if (signal.aborted) return onAbort();
    signal.addEventListener('abort', onAbort, { once: true });
    socket.once('close', () => {
      signal.removeEventListener('abort', onAbort);
      done();
    });
    socket.resume();
    socket.end();
  });
}

/** SHA-256 of the headers, the file range (read again, from the file) and the trailers. */
export async function checksum(file: FileHandle, offset: number, count: number, headers: Buffer[], trailers: Buffer[]): Promise<string> {
  const hash = createHash('sha256');
  for (const chunk of headers) hash.update(chunk);
  const buffer = Buffer.allocUnsafe(Math.min(count, 1 << 20) || 1);
  for (let done = 0; done < count; ) {
    const { bytesRead } = await file.read(buffer, 0, Math.min(buffer.length, count - done), offset + done);
    if (bytesRead === 0) throw failure('ERR_FILE_TRUNCATED', 'the file became shorter after it was sent: no checksum');
    hash.update(buffer.subarray(0, bytesRead));
    done += bytesRead;
  }
  for (const chunk of trailers) hash.update(chunk);
  return hash.digest('hex');
}
