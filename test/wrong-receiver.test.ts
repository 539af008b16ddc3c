// No byte to the wrong connection. A socket's descriptor number is only
// valid while the socket is alive: Node closes a destroyed socket's
// descriptor at once, and the next connection may be given the same number.
// A transfer whose socket is destroyed while its file is still opening must
// send nothing, to anyone, and reject with ERR_STREAM_DESTROYED.
//
// Both tests make the reuse happen for real and count it, so that they
// cannot pass by never reaching the race.
import type net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, sendFile } from '../dist/cjs/index.js';
import { makeTempDir, writeRandomFile, type TempDir, type TestFile } from './support/files.js';
import { BurstClients, PeerProcess } from './support/peer.js';
import { connect, connecting, startServer } from './support/sockets.js';
import { sleep } from './support/waiting.js';

const BACKENDS = capabilities().backends;
const ROUNDS = 300;

let tmp: TempDir;
let file: TestFile;

beforeAll(() => {
  tmp = makeTempDir();
  file = writeRandomFile(tmp, 'response.bin', 4096);
});

afterAll(() => tmp.remove());

const fdOf = (socket: net.Socket) => (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;

async function rejectionCode(promise: Promise<unknown>): Promise<{ code?: string; bytesSent?: number }> {
  try {
    await promise;
    return { code: 'resolved' };
  } catch (error) {
    return error as { code?: string; bytesSent?: number };
  }
}

describe('a transfer whose socket is destroyed before it starts', () => {
  it.each(BACKENDS)('sends nothing to the connection that reuses its descriptor number, as a client (%s)', async (backend) => {
    const peer = await PeerProcess.start({ mode: 'sink' });
    try {
      let reused = 0;
      const codes = new Map<string, number>();
      for (let i = 0; i < ROUNDS; i++) {
        const a = await connect(peer.port);
        const number = fdOf(a);
        const transfer = rejectionCode(sendFile(a, file.path, { backend }));
        a.destroy();
        // Its socket() runs on the next tick and takes the lowest free
        // number: the one destroy() just closed.
        const b = connecting(peer.port);
        const error = await transfer;
        if (fdOf(b) === number) reused++;
        codes.set(`${error.code}/${error.bytesSent}`, (codes.get(`${error.code}/${error.bytesSent}`) ?? 0) + 1);
        b.end();
      }
      expect(Object.fromEntries(codes)).toEqual({ 'ERR_STREAM_DESTROYED/0': ROUNDS });
      expect(reused, 'rounds in which the next connection got the destroyed socket\'s number').toBeGreaterThan(ROUNDS / 10);
      // Every connection the peer saw (two per round) closed having received nothing.
      const closes = () => peer.events.filter((e) => e.event === 'close');
      for (let waited = 0; closes().length < 2 * ROUNDS && waited < 10_000; waited += 20) await sleep(20);
      expect(closes().length).toBe(2 * ROUNDS);
      expect(closes().reduce((n, e) => n + (e.bytes ?? 0), 0)).toBe(0);
    } finally {
      await peer.stop();
    }
  });

  it('sends nothing to a connection accepted while the transfer was still opening its file, as a server', async () => {
    const clients = BurstClients.start();
    const victims = new Map<number, Promise<unknown>>(); // descriptor number -> transfer still unsettled
    const outcomes: Promise<{ code?: string; bytesSent?: number }>[] = [];
    let accepted = 0;
    let reused = 0;
    const server = await startServer((socket) => {
      const number = fdOf(socket)!;
      if (victims.has(number)) reused++;
      if (accepted++ % 2 === 0) {
        // A client that disconnects right after asking: the file is still
        // being opened on the threadpool when its descriptor closes.
        const outcome = rejectionCode(sendFile(socket, file.path));
        socket.destroy();
        victims.set(number, outcome);
        void outcome.then(() => victims.get(number) === outcome && victims.delete(number));
        outcomes.push(outcome);
      } else {
        // A bystander we never write to: anything it receives went astray.
        setTimeout(() => socket.end(), 5);
      }
    });
    try {
      const BURSTS = 40;
      const PER_BURST = 8;
      let received = 0;
      for (let i = 0; i < BURSTS; i++) received += await clients.burst(server.port, PER_BURST);
      const results = await Promise.all(outcomes);
      expect(accepted).toBe(BURSTS * PER_BURST);
      expect(reused, 'connections accepted onto the number of a destroyed socket whose transfer was pending').toBeGreaterThan(0);
      expect(results.filter((e) => e.code !== 'ERR_STREAM_DESTROYED' || e.bytesSent !== 0)).toEqual([]);
      expect(received).toBe(0);
    } finally {
      await server.close();
      await clients.stop();
    }
  });
});
