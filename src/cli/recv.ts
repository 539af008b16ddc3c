// `zerocopy recv`: the receiving end for `zerocopy send`, or for any sender:
// it reads connections to their end and prints what it got (bytes, time,
// rate and SHA-256), optionally writing the bytes to a file. It counts with
// plain 'data' handlers, so that on a fast link it measures the sender and
// not itself.
import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { createServer, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { finished } from 'node:stream/promises';
import { parse, parsePort, UsageError, wantsHelp } from './args.js';
import { describeError } from './errors.js';
import { DEFAULT_HOST, listen } from './listen.js';
import { formatTransfer, print, Progress } from './output.js';
import { Interrupted, onInterrupt, signalNumber } from './signals.js';

export const recvHelp = `usage: zerocopy recv PORT [--out FILE] [--keep] [--host H]

Listens on TCP port PORT (0 picks a free one; "listening on ADDRESS:PORT" is
printed on stderr), accepts one connection, reads it to its end and prints
on stdout
  received N bytes in T s (X MB/s) sha256 H
where MB are 10^6 bytes and H is the SHA-256 of the bytes received, for
comparing with what the sender (zerocopy send) prints.

Options:
  -o, --out FILE   write the bytes to FILE (created or emptied first);
                   without it they are counted, hashed and discarded
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
  const hash = hashing ? createHash('sha256') : undefined;
  const progress = new Progress(() => counted.bytes).start();
  const started = performance.now();
  // Plain 'data' handlers: a pipeline of streams costs a good share of the rate on a fast link.
  const sink = out === undefined ? undefined : createWriteStream(out);
  sink?.on('error', (error) => socket.destroy(error));
  socket.on('data', (chunk: Buffer) => {
    hash?.update(chunk);
    counted.bytes += chunk.length;
    if (sink && !sink.write(chunk)) {
      socket.pause();
      sink.once('drain', () => socket.resume());
    }
  });
  socket.resume();
  try {
    await finished(socket, { writable: false });
    if (sink) {
      sink.end();
      await finished(sink);
    }
  } finally {
    progress.stop();
    sink?.destroy();
  }
  return { bytes: counted.bytes, seconds: (performance.now() - started) / 1000, digest: hash?.digest('hex') };
}
