// `zerocopy recv`: the receiving end for `zerocopy send`, or for any sender:
// it reads connections to their end and prints what it got (bytes, time,
// rate and SHA-256), optionally writing the bytes to a file. With a file it
// writes through receiveFile() (on Linux the bytes go from the socket to the
// file by splice(2)) and hashes the file afterwards; without one it counts
// with plain 'data' handlers, so that on a fast link it measures the sender
// and not itself.
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { finished } from 'node:stream/promises';
import { receiveFile } from '../index.js';
import { parse, parsePort, UsageError, wantsHelp } from './args.js';
import { describeError } from './errors.js';
import { DEFAULT_HOST, listen } from './listen.js';
import { formatTransfer, print, Progress } from './output.js';
import { checksum } from './send.js';
import { Interrupted, onInterrupt, signalNumber } from './signals.js';

export const recvHelp = `usage: zerocopy recv PORT [--out FILE] [--keep] [--host H]

Listens on TCP port PORT (0 picks a free one; "listening on ADDRESS:PORT" is
printed on stderr), accepts one connection, reads it to its end and prints
on stdout
  received N bytes in T s (X MB/s) sha256 H
where MB are 10^6 bytes and H is the SHA-256 of the bytes received, for
comparing with what the sender (zerocopy send) prints.

Options:
  -o, --out FILE   write the bytes to FILE (created or emptied first), with
                   receiveFile(); the checksum then reads FILE back after the
                   transfer, untimed; without --out the bytes are counted,
                   hashed and discarded
  --keep           accept connections one after another until Ctrl-C
                   (with --out, each one rewrites FILE)
  --host H         the address to listen on (default 127.0.0.1, this machine
                   only, as zerocopy serve; 0.0.0.0 or :: for every
                   interface, so that another machine can send)
  --no-checksum    do not compute the checksum (hashing takes CPU time that
                   can slow a fast link down)
  -h, --help       this help

When stderr is a terminal, a transfer longer than a second shows its progress
there. Ctrl-C while waiting exits 0; during a transfer, 130.
`;

export async function recvCommand(args: string[]): Promise<number> {
  if (wantsHelp(args)) return print(recvHelp);
  const { values, positionals } = parse(
    'recv',
    args,
    { out: { type: 'string', short: 'o' }, keep: { type: 'boolean' }, host: { type: 'string' }, 'no-checksum': { type: 'boolean' } },
    { min: 1, max: 1, names: ['PORT'] },
  );
  const port = parsePort('recv', 'PORT', positionals[0]);
  if (values.out === '') throw new UsageError('--out: expected a file name', 'recv');
  if (values.host === '') throw new UsageError('--host: expected a host name or address', 'recv');
  const keep = values.keep ?? false;

  // Created (or emptied) before listening, so that a bad path fails at once.
  const out = values.out;
  if (out !== undefined) await (await open(out, 'w')).close();
  const server = createServer({ pauseOnConnect: true });
  try {
    const address = await listen(server, port, values.host ?? DEFAULT_HOST, 'PORT');
    process.stderr.write(`listening on ${address}\n`);

    const queue: Socket[] = [];
    let wake: (() => void) | undefined;
    server.on('connection', (socket) => {
      if (!keep) server.close(); // one connection: stop accepting more
      queue.push(socket);
      wake?.();
    });
    let interrupted: NodeJS.Signals | undefined;
    let current: Socket | undefined;
    const removeInterrupt = onInterrupt((signal) => {
      interrupted = signal;
      if (current) current.destroy(new Interrupted(signal));
      else wake?.();
    });
    try {
      for (;;) {
        while (queue.length === 0 && !interrupted) await new Promise<void>((done) => (wake = done));
        wake = undefined;
        if (interrupted) return 0; // stopped while waiting: a clean stop
        const socket = (current = queue.shift()!);
        const counted = { bytes: 0 };
        try {
          const { bytes, seconds, digest } = await receive(socket, out, !values['no-checksum'], counted);
          process.stdout.write(`received ${formatTransfer(bytes, seconds)}${digest === undefined ? '' : ` sha256 ${digest}`}\n`);
        } catch (error) {
          if (interrupted) {
            process.stderr.write(`zerocopy: interrupted${counted.bytes > 0 ? ` after ${counted.bytes} bytes` : ''}\n`);
            return signalNumber(interrupted);
          }
          if (!keep) throw error;
          process.stderr.write(`zerocopy: ${describeError(error)} (after ${counted.bytes} bytes)\n`);
        } finally {
          current = undefined;
          socket.destroy();
        }
        if (!keep) return 0;
      }
    } finally {
      removeInterrupt();
      for (const socket of queue) socket.destroy();
    }
  } finally {
    server.close();
  }
}

/** Reads one connection to its end: counts, hashes, and writes to the file `out` (created or emptied). */
async function receive(socket: Socket, out: string | undefined, hashing: boolean, counted: { bytes: number }) {
  if (out !== undefined) return receiveInto(socket, out, hashing, counted);
  const hash = hashing ? createHash('sha256') : undefined;
  const progress = new Progress(() => counted.bytes).start();
  const started = performance.now();
  // Plain 'data' handlers: a pipeline of streams costs a good share of the rate on a fast link.
  socket.on('data', (chunk: Buffer) => {
    hash?.update(chunk);
    counted.bytes += chunk.length;
  });
  socket.resume();
  try {
    await finished(socket, { writable: false });
  } finally {
    progress.stop();
  }
  return { bytes: counted.bytes, seconds: (performance.now() - started) / 1000, digest: hash?.digest('hex') };
}

/** Receives one connection into the file `out` (created or emptied) with receiveFile(); the checksum reads it back. */
async function receiveInto(socket: Socket, out: string, hashing: boolean, counted: { bytes: number }) {
  const progress = new Progress(() => counted.bytes).start();
  const started = performance.now();
  try {
    counted.bytes = (await receiveFile(socket, out, { onProgress: (bytes) => (counted.bytes = bytes) })).bytesReceived;
  } finally {
    progress.stop();
  }
  const seconds = (performance.now() - started) / 1000;
  if (!hashing) return { bytes: counted.bytes, seconds, digest: undefined };
  const file = await open(out, 'r');
  try {
    return { bytes: counted.bytes, seconds, digest: await checksum(file, 0, counted.bytes, [], []) };
  } finally {
    await file.close();
  }
}
