// relay() between real loopback connections, on every backend this
// machine has: the two sockets under test are the accepted end of one pair
// (a, its peer `left`) and the connecting end of another (b, its peer
// `right`), as in a proxy. Bytes exact both ways, ends passed on as
// half-closes, Node's buffered and queued bytes first, allowHalfOpen as
// Node has it, resets, aborts, idle timeouts, destroyed sockets, slow
// readers, and what an idle relay costs.
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { capabilities, receiveFile, relay } from '../dist/cjs/index.js';
import { expectBytes, MiB, seededBytes } from './support/bytes.js';
import { descriptorsOpenedSince, openDescriptors } from './support/descriptors.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { buffered, collect, destroyPairs, tcpPair, trickle } from './support/pairs.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { eventually, rejection, sleep, within } from './support/waiting.js';

const caps = capabilities();
const BACKENDS = caps.relay.backends;

interface Ends {
  /** The peer of a: it writes toward `right` and reads what comes back. */
  left: net.Socket;
  a: net.Socket;
  b: net.Socket;
  /** The peer of b. */
  right: net.Socket;
}

async function ends(options: { halfOpenA?: boolean; halfOpenB?: boolean } = {}): Promise<Ends> {
  const one = await tcpPair({ allowHalfOpen: options.halfOpenA ?? true });
  const two = await tcpPair({ allowHalfOpen: options.halfOpenB ?? true });
  return { left: one.client, a: one.server, b: two.client, right: two.server };
}

type Counts = { aToB?: number; bToA?: number };

afterEach(() => destroyPairs());

describe('what this machine can relay with', () => {
  it('says so in capabilities(): splice first on Linux, stream last', () => {
    expect(BACKENDS[0]).toBe('splice');
    expect(BACKENDS).toContain('readwrite');
    expect(BACKENDS.at(-1)).toBe('stream');
    expect(caps.relay.zeroCopy).toBe(true);
  });
});

describe.each(BACKENDS)('relay with backend %s', (backend) => {
  it('relays both ways byte for byte, each end passed on as a half-close', async () => {
    const { left, a, b, right } = await ends();
    const toRight = seededBytes(`lr-${backend}`, 3 * MiB + 1);
    const toLeft = seededBytes(`rl-${backend}`, 2 * MiB + 7);
    const relaying = relay(a, b, { backend });
    const atRight = collect(right);
    const atLeft = collect(left);
    left.end(toRight);
    // Half-closed: right still sends after it has seen left's end.
    const first = await within(atRight, 10_000, "left's bytes at right");
    expect(first.ended).toBe(true);
    expectBytes(first.data, toRight, 'at right');
    right.end(toLeft);
    const second = await within(atLeft, 10_000, "right's bytes at left");
    expect(second.ended).toBe(true);
    expectBytes(second.data, toLeft, 'at left');
    expect(await within(relaying, 5000, 'the relay')).toEqual({ aToB: toRight.length, bToA: toLeft.length, backend });
    expect(a.destroyed && b.destroyed).toBe(true);
  });

  it("sends the bytes Node had read from either socket first, after the writes queued on the other, in order", async () => {
    const { left, a, b, right } = await ends();
    left.write('early from left;');
    right.write('early from right;');
    await buffered(a, 16);
    await buffered(b, 17);
    b.write('queued to right;');
    a.write('queued to left;');
    const relaying = relay(a, b, { backend });
    const atRight = collect(right);
    const atLeft = collect(left);
    left.end('later from left');
    right.end('later from right');
    expect((await within(atRight, 5000, 'at right')).data.toString()).toBe('queued to right;early from left;later from left');
    expect((await within(atLeft, 5000, 'at left')).data.toString()).toBe('queued to left;early from right;later from right');
    expect(await relaying).toMatchObject({ aToB: 31, bToA: 33 });
  });

  it("ends both ways at the end of a socket without allowHalfOpen, as Node would end that socket", async () => {
    const { left, a, b, right } = await ends({ halfOpenA: false });
    const relaying = relay(a, b, { backend });
    const atRight = collect(right);
    const atLeft = collect(left);
    right.write('before the end');
    await sleep(50);
    left.end('bye');
    // right never ends, yet left's end ends the way back too.
    const back = await within(atLeft, 5000, 'the way back to left');
    expect(back.ended).toBe(true);
    expect(back.data.toString()).toBe('before the end');
    const there = await within(atRight, 5000, 'the way to right');
    expect(there.data.toString()).toBe('bye');
    expect(there.ended).toBe(true);
    expect(await within(relaying, 5000, 'the relay')).toMatchObject({ aToB: 3, bToA: 14 });
  });

  it('ends both with the error and the counts when one side resets', async () => {
    const { left, a, b, right } = await ends();
    const relaying = relay(a, b, { backend });
    const atLeft = collect(left);
    const data = seededBytes(`reset-${backend}`, MiB);
    right.on('data', () => {});
    left.write(data);
    await eventually(() => right.bytesRead >= data.length, 'the bytes at right');
    right.resetAndDestroy();
    const error = await rejection<Error & Counts>(within(relaying, 5000, 'the relay'), {});
    expect(['ECONNRESET', 'EPIPE']).toContain((error as { code?: string }).code);
    expect(error.aToB).toBe(data.length);
    expect(error.bToA).toBe(0);
    // Both ended: left's connection is over too.
    await within(atLeft, 5000, "left's end");
    expect(a.destroyed && b.destroyed).toBe(true);
  });

  it('stops on the signal with ABORT_ERR, ending both', async () => {
    const { left, a, b } = await ends();
    const controller = new AbortController();
    const relaying = relay(a, b, { backend, signal: controller.signal });
    const atLeft = collect(left);
    left.write('partial');
    await sleep(50);
    controller.abort();
    const error = await rejection<Error & Counts>(relaying, { code: 'ABORT_ERR' });
    expect(error.aToB).toBe(7);
    await within(atLeft, 5000, "left's end");
  });

  it('ends with ETIMEDOUT once no byte has moved either way for idleTimeout, and not while bytes move', async () => {
    const { left, a, b, right } = await ends();
    right.on('data', () => {});
    const started = Date.now();
    const relaying = relay(a, b, { backend, idleTimeout: 200 });
    // Bytes for twice the idle timeout, one every 70 ms.
    for (let i = 0; i < 6; i++) {
      left.write('x');
      await sleep(70);
    }
    const lastByte = Date.now();
    const error = await rejection<Error & Counts>(within(relaying, 5000, 'the relay'), { code: 'ETIMEDOUT' });
    const idleFor = Date.now() - lastByte;
    expect(Date.now() - started).toBeGreaterThan(400);
    expect(idleFor).toBeGreaterThanOrEqual(100);
    expect(error.aToB).toBe(6);
  });

  it('rejects when a socket was destroyed before the call, and ends the other', async () => {
    const { a, b } = await ends();
    b.destroy();
    const error = await rejection<Error & Counts>(relay(a, b, { backend }), { code: 'ERR_STREAM_DESTROYED' });
    expect({ aToB: error.aToB, bToA: error.bToA }).toEqual({ aToB: 0, bToA: 0 });
    expect(a.destroyed).toBe(true);
  });

  it('stops when a socket is destroyed during the relay: ERR_STREAM_DESTROYED', async () => {
    const { left, a, b, right } = await ends();
    right.on('data', () => {});
    const relaying = relay(a, b, { backend });
    left.write('some');
    await eventually(() => right.bytesRead === 4, 'the bytes at right');
    a.destroy();
    const error = await rejection<Error & Counts>(within(relaying, 5000, 'the relay'), { code: 'ERR_STREAM_DESTROYED' });
    expect(error.aToB).toBe(4);
    await within(collect(right), 5000, "right's end");
  });

  it('keeps up with a slow reader: everything arrives, in order', async () => {
    const { left, a, b, right } = await ends();
    const data = seededBytes(`slow-${backend}`, 6 * MiB);
    const relaying = relay(a, b, { backend });
    const chunks: Buffer[] = [];
    right.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      right.pause();
      setTimeout(() => right.resume(), 1);
    });
    const rightEnded = once(right, 'end');
    left.end(data);
    await within(rightEnded, 20_000, "right's end");
    expectBytes(Buffer.concat(chunks), data, 'at right');
    right.end();
    expect(await within(relaying, 5000, 'the relay')).toMatchObject({ aToB: data.length, bToA: 0 });
  });

  it('waits for a socket still connecting', async () => {
    const listener = net.createServer({ allowHalfOpen: true });
    listener.listen(0, '127.0.0.1');
    await once(listener, 'listening');
    const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
    const { client: left, server: a } = await tcpPair({ allowHalfOpen: true });
    const b = net.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: true });
    const relaying = relay(a, b, { backend });
    const [right] = await accepted;
    listener.close();
    const atRight = collect(right);
    const data = seededBytes('connecting', 100_000);
    await trickle(left, data, 5, 5);
    expectBytes((await within(atRight, 5000, 'at right')).data, data, 'at right');
    right.end();
    await within(relaying, 5000, 'the relay');
    right.destroy();
  });
});

describe('relay: arguments and TLS', () => {
  let dir: TempDir;
  let cert: { key: Buffer; cert: Buffer };
  beforeAll(async () => {
    dir = makeTempDir('zerocopy-relay-tls-');
    cert = await makeSelfSignedCertificate(dir.path);
  });
  afterAll(() => dir.remove());

  it.each([
    ['a that is not a socket', () => relay({} as never, new net.Socket()), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['b that is not a socket', () => relay(new net.Socket(), 3 as never), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['a negative idle timeout', () => relay(new net.Socket(), new net.Socket(), { idleTimeout: -1 }), TypeError, 'ERR_INVALID_ARG_VALUE'],
    ['an idle timeout that is not a number', () => relay(new net.Socket(), new net.Socket(), { idleTimeout: '1s' as never }), TypeError, 'ERR_INVALID_ARG_TYPE'],
    ['an unknown backend', () => relay(new net.Socket(), new net.Socket(), { backend: 'sendfile' as never }), TypeError, 'ERR_INVALID_ARG_VALUE'],
  ] as const)('rejects %s', async (_, call, errorClass, code) => {
    await rejection(call(), { class: errorClass, code });
  });

  it('rejects the same socket twice, leaving it alone', async () => {
    const { a } = await ends();
    await rejection(relay(a, a), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    expect(a.destroyed).toBe(false);
  });

  it('relays TLS sockets through the stream path, and refuses to splice them', async () => {
    const server = tls.createServer({ ...cert, allowHalfOpen: true });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const secure = once(server, 'secureConnection') as Promise<[tls.TLSSocket]>;
    const left = tls.connect({ port: (server.address() as net.AddressInfo).port, host: '127.0.0.1', ca: cert.cert, servername: 'localhost' });
    const [a] = await secure;
    server.close();
    const { client: b, server: right } = await tcpPair({ allowHalfOpen: true });
    await rejection(relay(a, b, { backend: 'splice' }), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' });
    const relaying = relay(a, b);
    const atRight = collect(right);
    const data = seededBytes('tls', 500_000);
    left.end(data);
    expectBytes((await within(atRight, 10_000, 'at right')).data, data, 'at right (decrypted)');
    right.end('back');
    const atLeft = await within(collect(left), 10_000, 'at left');
    expect(atLeft.data.toString()).toBe('back');
    expect(await relaying).toEqual({ aToB: data.length, bToA: 4, backend: 'stream' });
    left.destroy();
  });
});

describe('what relays cost', () => {
  it('an idle relay holds its two duplicates and no pipe; every descriptor goes when it ends', async () => {
    // A first relay starts the driver (its epoll and eventfd stay).
    const warm = await ends();
    const warmed = relay(warm.a, warm.b);
    warm.left.end();
    warm.right.end();
    await warmed;
    const before = openDescriptors();
    const idle = await Promise.all(Array.from({ length: 20 }, () => ends()));
    const afterSockets = openDescriptors().size;
    const relays = idle.map((e) => relay(e.a, e.b).catch((error: Error) => error));
    await sleep(100);
    // The splice mover's pool may keep one pipe for them all, not one each.
    const pipes = descriptorsOpenedSince(before).filter((line) => line.includes('pipe:')).length;
    expect(pipes, 'pipe descriptors held while 20 relays are idle').toBeLessThanOrEqual(2);
    expect(openDescriptors().size - afterSockets - pipes, 'descriptors per idle relay beyond its sockets').toBe(2 * idle.length);
    for (const e of idle) {
      e.left.end();
      e.right.end();
    }
    for (const r of await Promise.all(relays)) expect(r).toMatchObject({ aToB: 0, bToA: 0 });
    for (const e of idle) {
      e.left.destroy();
      e.right.destroy();
    }
    await sleep(50);
    expect(descriptorsOpenedSince(before)).toEqual([]);
  });
});

describe('what a failed relay leaves behind', () => {
  it.runIf(BACKENDS.includes('splice'))('a relay that fails while its pipe holds bytes leaves none of them to the next transfer', async () => {
    const dir = makeTempDir('zerocopy-relay-pool-');
    // An idle relay keeps the splice mover's pool of pipes alive throughout.
    const keeper = await ends();
    const keeping = relay(keeper.a, keeper.b).catch((error: Error) => error);
    try {
      const { left, a, b, right } = await ends();
      // right reads nothing: its receive buffer fills, then b's send buffer,
      // then the relay's pipe, then a's receive buffer and left's send
      // buffer (which autotune: up to tcp_rmem's maximum, 32 MiB here), and
      // then left's writes wait.
      right.pause();
      const relaying = relay(a, b, { backend: 'splice' }).catch((error: Error) => error);
      const chunk = Buffer.alloc(MiB, 'X');
      let sent = 0;
      await eventually(async () => {
        if (left.writableLength === 0 && sent < 512) {
          left.write(chunk);
          sent++;
        }
        await sleep(100);
        return left.writableLength > 0;
      }, 'the relay stalled with bytes in its pipe', 20_000);
      right.resetAndDestroy();
      await within(relaying, 5000, 'the failed relay');
      // The next transfer borrows from the same pool.
      const { client, server } = await tcpPair({ allowHalfOpen: true });
      const fresh = seededBytes('after-the-failure', 300 * 1024);
      client.end(fresh);
      const path = dir.file('fresh.bin');
      const { bytesReceived } = await within(receiveFile(server, path, { backend: 'splice' }), 5000, 'the receive');
      expectBytes(readFileSync(path), fresh, 'the file');
      expect(bytesReceived).toBe(fresh.length);
    } finally {
      keeper.left.end();
      keeper.right.end();
      await within(keeping, 5000, 'the keeper');
      dir.remove();
    }
  });
});
