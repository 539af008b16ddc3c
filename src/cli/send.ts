// `zerocopy send`: sendFile() to a TCP receiver from the shell, with the
// range, headers, trailers and backend given as options. What it prints lets
// the two ends be compared: the bytes, and the SHA-256 of exactly what was
// sent, which the receiver (zerocopy recv) prints too.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import { connect as netConnect, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { capabilities, sendFile, type Backend } from '../index.js';
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

export async function sendCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(sendHelp);
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
  const { host, port } = parseAddress('send', target);
  const offset = values.offset === undefined ? 0 : parseBytes('send', '--offset', values.offset);
  const wantedCount = values.count === undefined ? undefined : parseBytes('send', '--count', values.count);
  const backends: string[] = capabilities().backends;
  const backend = (values.backend ?? 'auto') as 'auto' | Backend;
  if (backend !== 'auto' && !backends.includes(backend)) {
    throw new UsageError(`--backend: '${backend}' is not one of auto, ${backends.join(', ')}`, 'send');
  }
  const headers = (values.header ?? []).map((text) => parseEscapes('send', '--header', text));
  const trailers = (values.trailer ?? []).map((text) => parseEscapes('send', '--trailer', text));

  const file = await open(path, 'r');
  try {
    // Refuse what sendFile would refuse before connecting, so that the
    // receiver is not left with an empty connection.
    const before = await file.stat();
    if (before.isDirectory()) throw failure('EISDIR', `illegal operation on a directory, read '${path}'`);
    if (!before.isFile()) throw failure('ERR_INVALID_ARG_VALUE', `'${path}' is not a regular file`);
    const count = wantedCount ?? Math.max(0, before.size - offset);
    if (offset + count > before.size) {
      throw failure('ERR_FILE_TRUNCATED', `'${path}' holds ${before.size} bytes, the range ends at byte ${offset + count}`);
    }
    const total = byteLength(headers) + count + byteLength(trailers);

    const controller = new AbortController();
    let interrupted: NodeJS.Signals | undefined;
    const removeInterrupt = onInterrupt((signal) => {
      interrupted = signal;
      controller.abort(new Interrupted(signal));
    });
    let bytesSent = 0;
    try {
      const socket = await connect(host, port, controller.signal);
      let socketError: Error | undefined;
      socket.on('error', (error) => (socketError ??= error));
      let sentSoFar = 0;
      const progress = new Progress(() => sentSoFar, total).start();
      const started = performance.now();
      let result;
      let seconds: number;
      try {
        result = await sendFile(socket, file, {
          offset,
          count,
          headers,
          trailers,
          backend,
          signal: controller.signal,
          onProgress: (bytes) => (sentSoFar = bytes),
        });
        bytesSent = result.bytesSent;
        // Done when the receiver has read everything and closed its end.
        await endAndClose(socket, controller.signal);
        seconds = (performance.now() - started) / 1000;
      } finally {
        progress.stop();
        socket.destroy();
      }
      if (socketError) throw Object.assign(socketError, { bytesSent });
      removeInterrupt();
      let line = `sent ${formatTransfer(result.bytesSent, seconds)} via ${result.backend}`;
      if (!values['no-checksum']) {
        const digest = await checksum(file, offset, count, headers, trailers);
        const after = await file.stat();
        if (after.mtimeMs !== before.mtimeMs || after.size !== before.size) {
          process.stderr.write(`zerocopy: warning: '${path}' changed while it was sent; the checksum may not match what was sent\n`);
        }
        line += ` sha256 ${digest}`;
      }
      process.stdout.write(`${line}\n`);
      return 0;
    } catch (error) {
      if (interrupted) {
        const sent = (error as { bytesSent?: number }).bytesSent ?? bytesSent;
        process.stderr.write(`zerocopy: interrupted${sent > 0 ? ` after ${sent} bytes` : ''}\n`);
        return signalNumber(interrupted);
      }
      throw error;
    } finally {
      removeInterrupt();
    }
  } finally {
    await file.close();
  }
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
