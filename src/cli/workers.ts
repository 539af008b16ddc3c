// `zerocopy serve --workers N`: N processes serving one port through
// node:cluster, as nginx's worker_processes: each worker loads its own addon
// and runs its own driver thread. The primary serves nothing: it starts the
// workers, prints the startup line once all of them listen, replaces a
// worker that dies, and stops them all on Ctrl-C or SIGTERM. A worker that
// cannot start (the port is in use) tells the primary why instead of
// printing it, so that the failure is one line, not N.
import cluster, { type Worker } from 'node:cluster';
import { describeError } from './errors.js';
import { interrupted, onInterrupt } from './signals.js';

/** A server a process runs (serve.ts starts it): where it listens, and how to stop it. */
export interface RunningServer {
  address: string;
  /** Why it listens elsewhere than it was asked to (the default port taken), if it does. */
  moved?: string;
  stop(): Promise<void>;
}

/** What a worker tells the primary, and the primary a worker. */
type Message = { zerocopy: 'listening'; address: string } | { zerocopy: 'failed'; message: string } | { zerocopy: 'stop' };

/** How long stopping workers may take before the primary kills them. */
const STOP_LIMIT_MS = 10_000;

export const isWorker = () => cluster.isWorker;

const send = (message: Message) => process.send!(message);

/** In a worker: starts the server, reports to the primary, and serves until told to stop (or interrupted). */
export async function runWorker(start: () => Promise<RunningServer>): Promise<number> {
  // Listening for 'stop' from the start: a stop that comes during startup
  // is honoured as soon as the server is up.
  const stopMessage = new Promise<void>((done) => process.on('message', (message: Message) => message?.zerocopy === 'stop' && done()));
  const stopped = Promise.race([stopMessage, interrupted()]);
  // A message to a primary that is gone fails with EPIPE; the worker exits on the 'disconnect' that follows.
  cluster.worker?.on('error', () => {});
  let server: RunningServer;
  try {
    server = await start();
  } catch (error) {
    send({ zerocopy: 'failed', message: describeError(error) });
    process.disconnect();
    return 1;
  }
  send({ zerocopy: 'listening', address: server.address });
  await stopped;
  await server.stop();
  process.disconnect();
  return 0;
}

/**
 * In the primary: starts `count` workers; calls `started` with the address
 * once they all listen; resolves with the exit status: 0 after a stop, 1
 * when a worker could not start (after printing why, once).
 */
export function runPrimary(count: number, started: (address: string) => void): Promise<number> {
  return new Promise((settle) => {
    const serving = new Set<Worker>();
    let stopping = false;
    let address: string | undefined;

    const fork = () => {
      const worker = cluster.fork();
      // A message to a worker that is going away fails with EPIPE: its exit is what counts.
      worker.on('error', () => {});
      worker.on('message', (message: Message) => {
        if (message.zerocopy === 'listening') {
          serving.add(worker);
          if (address === undefined && serving.size === count) {
            address = message.address;
            started(address);
          }
        } else if (message.zerocopy === 'failed') {
          fail(message.message);
        }
      });
      worker.on('exit', async (code, signal) => {
        // Its last messages (why it failed) may still be unread: they are read once it has disconnected.
        if (worker.isConnected()) await new Promise((done) => worker.once('disconnect', done));
        const wasServing = serving.delete(worker);
        if (stopping) return;
        const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
        if (!wasServing) return fail(`a worker ${how} before it was serving`);
        process.stderr.write(`zerocopy: worker ${worker.process.pid} ${how}; starting another\n`);
        fork();
      });
    };

    const stop = async (status: number) => {
      if (stopping) return;
      stopping = true;
      removeInterrupt();
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined && !w.isDead());
      const exited = workers.map((w) => new Promise((done) => w.once('exit', done)));
      for (const worker of workers) if (worker.isConnected()) worker.send({ zerocopy: 'stop' } satisfies Message);
      const limit = setTimeout(() => {
        process.stderr.write(`zerocopy: workers did not stop within ${STOP_LIMIT_MS / 1000} s; killing them\n`);
        for (const worker of workers) if (!worker.isDead()) worker.process.kill('SIGKILL');
      }, STOP_LIMIT_MS);
      await Promise.all(exited);
      clearTimeout(limit);
      settle(status);
    };

    /** A worker could not start: one line, every worker stopped, exit 1. */
    const fail = (message: string) => {
      if (stopping) return;
      process.stderr.write(`zerocopy: ${message}\n`);
      void stop(1);
    };

    const removeInterrupt = onInterrupt(() => void stop(0));
    for (let i = 0; i < count; i++) fork();
  });
}
