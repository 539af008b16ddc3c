// The peer of the soak and load tests (soak-peer-program.js) driven from
// the test: it starts the program and hands each connection's report to the
// waiter registered for the connection's client port. Reports for one port
// arrive in the order its connections closed, and waiters are registered in
// the order the connections opened, so a port the kernel reuses over a long
// run still pairs each report with its own connection.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { within } from './waiting.js';

export { peerFault } from './soak-peer-program.js';

/** The peer's report of one connection, as soak-peer-program.js writes it. */
export interface PeerReport {
  port: number;
  bytes: number;
  sha256: string;
  how: string;
  fault: string;
}

/** The first of the values queued under `key`; the key goes with its last value, so that a long run's many ports are not all kept. */
function take<T>(queues: Map<number, T[]>, key: number): T | undefined {
  const queue = queues.get(key);
  const value = queue?.shift();
  if (queue?.length === 0) queues.delete(key);
  return value;
}

/** The soak peer in its own process; reports reach the waiter registered for their port, first come first served. */
export class SoakPeer {
  port = 0;
  private readonly waiting = new Map<number, ((r: PeerReport) => void)[]>();
  private readonly early = new Map<number, PeerReport[]>();
  private constructor(private readonly child: ChildProcess) {}

  static async start(runSeed: number, profile: 'soak' | 'load' = 'soak'): Promise<SoakPeer> {
    const child = spawn(process.execPath, [join(__dirname, 'soak-peer-program.js'), String(runSeed), profile], { stdio: ['pipe', 'pipe', 'inherit'] });
    const peer = new SoakPeer(child);
    const listening = new Promise<number>((resolve) => {
      createInterface({ input: child.stdout! }).on('line', (line) => {
        const message = JSON.parse(line) as PeerReport & { listening?: number };
        if (message.listening) return resolve(message.listening);
        const waiter = take(peer.waiting, message.port);
        if (waiter) waiter(message);
        else peer.early.set(message.port, [...(peer.early.get(message.port) ?? []), message]);
      });
    });
    peer.port = await within(listening, 10_000, 'the soak peer to listen');
    return peer;
  }

  /** The report for the connection from `port`, registered while it is open: reports for one port come in the order its connections closed. */
  report(port: number): Promise<PeerReport> {
    const early = take(this.early, port);
    if (early) return Promise.resolve(early);
    return new Promise((resolve) => this.waiting.set(port, [...(this.waiting.get(port) ?? []), resolve]));
  }

  async stop(): Promise<void> {
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.stdin!.end();
    await within(exited, 5000, 'the soak peer to exit');
  }
}

