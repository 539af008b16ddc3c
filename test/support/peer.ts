// The far end of a connection, in a process of its own: a TCP server whose
// reading the test controls (PeerProcess, running peer-program.js), and
// bursts of clients for a server in the test process (BurstClients, running
// burst-clients-program.js). In another process they neither share the
// test's event loop nor its descriptors, so what the test measures is the
// sender's alone. Each program and its driver speak JSON lines; the types
// of those messages are here, and the programs are type-checked against them.
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { sleep, within } from './waiting.js';

const PEER_PROGRAM = join(__dirname, 'peer-program.js');
const BURST_CLIENTS_PROGRAM = join(__dirname, 'burst-clients-program.js');

/** How the peer reads a connection. */
export type PeerMode =
  | { mode: 'sink' } // reads everything
  | { mode: 'paused' } // reads nothing (beyond Node's own small read-ahead) until told
  | { mode: 'reset'; after: number } // reads `after` bytes, then resets (SO_LINGER 0)
  | { mode: 'destroy'; after: number } // reads `after` bytes, then closes with data unread
  | { mode: 'slow'; rate: number }; // reads about `rate` bytes per second

/** What the test tells the peer: how to read one connection (`id`) or all, or how to read new ones. */
export type PeerCommand = { cmd: 'mode'; mode: PeerMode; id?: number } | { cmd: 'defaults'; mode: PeerMode };

/** What the peer reports, one line each. */
export interface PeerReport {
  event: 'listening' | 'connection' | 'end' | 'close' | 'error' | 'reset' | 'destroy';
  /** The connection's number, in accept order from 0. */
  id?: number;
  /** 'listening': the port it listens on. */
  port?: number;
  /** 'connection': the client's port, which the test knows as its socket's localPort. */
  remotePort?: number;
  /** Bytes received so far. */
  bytes?: number;
  /** 'end': the SHA-256 of everything received. */
  sha256?: string;
  /** 'end': the first 64 bytes received, latin1. */
  head?: string;
  /** 'close': whether the sender ended its side first. */
  ended?: boolean;
  /** 'error': the socket error's code. */
  code?: string;
}

/** A report, with when the test process read it (performance.now()). */
export interface PeerEvent extends PeerReport {
  at: number;
}

/**
 * A TCP peer in its own process, driven over stdin/stdout: it reports
 * every connection, what it received (length and SHA-256) and when the
 * connection ended or closed; the test sets how it reads.
 */
export class PeerProcess {
  readonly events: PeerEvent[] = [];
  port = 0;
  private readonly waiters = new Set<() => void>();
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      this.events.push({ ...(JSON.parse(line) as PeerReport), at: performance.now() });
      for (const w of [...this.waiters]) w();
    });
    this.exited = new Promise((resolve) => child.once('close', () => resolve()));
  }

  /** Starts the peer; `defaults` is how it reads new connections. Rejects if it is not listening within 10 s. */
  static async start(defaults: PeerMode = { mode: 'sink' }): Promise<PeerProcess> {
    const child = spawn(process.execPath, [PEER_PROGRAM, JSON.stringify(defaults)], { stdio: ['pipe', 'pipe', 'inherit'] });
    const peer = new PeerProcess(child);
    peer.port = (await peer.waitFor((e) => e.event === 'listening', 10_000, 'peer listening')).port!;
    return peer;
  }

  /** The first event (already seen or still to come) that matches; rejects naming `what` after `timeoutMs`. */
  waitFor(match: (e: PeerEvent) => boolean, timeoutMs = 5000, what = 'peer event'): Promise<PeerEvent> {
    let check!: () => void;
    const found = new Promise<PeerEvent>((resolve) => {
      check = () => {
        const event = this.events.find(match);
        if (event) resolve(event);
      };
      this.waiters.add(check);
      check();
    });
    return within(found, timeoutMs, what).finally(() => this.waiters.delete(check));
  }

  /** The peer's id for the connection whose client side is bound to `localPort`. */
  async idOf(localPort: number): Promise<number> {
    return (await this.waitFor((e) => e.event === 'connection' && e.remotePort === localPort, 5000, 'peer accept')).id!;
  }

  /** Changes how the peer reads connection `id`, or every open connection. */
  setMode(mode: PeerMode, id?: number): void {
    this.send({ cmd: 'mode', mode, id });
  }

  /** Changes how the peer reads the connections it accepts from now on. */
  setDefaults(mode: PeerMode): void {
    this.send({ cmd: 'defaults', mode });
  }

  /** Closes the peer's stdin, which stops it; kills it if it has not exited within 5 s. */
  async stop(): Promise<void> {
    this.waiters.clear();
    this.child.stdin!.end();
    await within(this.exited, 5000, 'peer exit').catch(() => this.child.kill('SIGKILL'));
    await this.exited;
  }

  private send(command: PeerCommand): void {
    this.child.stdin!.write(JSON.stringify(command) + '\n');
  }
}

/** What the test asks of burst-clients-program.js: `count` connections to `port`, at once. */
export interface BurstCommand {
  port: number;
  count: number;
}

/** What burst-clients-program.js answers once every connection of a burst has closed. */
export interface BurstReport {
  /** Bytes the burst's connections received, in all. */
  bytes: number;
}

/** Clients in their own process that connect to a server in this one in bursts. */
export class BurstClients {
  private readonly replies: ((bytes: number) => void)[] = [];

  private constructor(private readonly child: ChildProcess) {
    createInterface({ input: child.stdout! }).on('line', (line) => this.replies.shift()?.((JSON.parse(line) as BurstReport).bytes));
  }

  static start(): BurstClients {
    return new BurstClients(spawn(process.execPath, [BURST_CLIENTS_PROGRAM], { stdio: ['pipe', 'pipe', 'inherit'] }));
  }

  /** Opens `count` connections at once; resolves with the bytes they received once all have closed (rejects after 10 s). */
  burst(port: number, count: number): Promise<number> {
    const reply = new Promise<number>((resolve) => this.replies.push(resolve));
    const command: BurstCommand = { port, count };
    this.child.stdin!.write(JSON.stringify(command) + '\n');
    return within(reply, 10_000, 'client burst');
  }

  /** Closes the clients' stdin, which stops them, and waits for them to exit. */
  async stop(): Promise<void> {
    this.child.stdin!.end();
    if (this.child.exitCode === null) await new Promise((resolve) => this.child.once('close', resolve));
    await sleep(0);
  }
}
