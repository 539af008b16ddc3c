// sendFile on real net.Sockets: loopback TCP, real files, peers in this
// process and in a child process. What is checked is what a user relies on:
// bytes arrive complete and in the order the calls were made, failures say
// what happened, a dead connection really closes, nothing leaks, and a
// transfer waiting for a slow peer never holds up the event loop or the
// threadpool.
import { randomFillSync } from 'node:crypto';
import { constants as fsConstants, fstatSync, promises as fsp } from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, sendFile, type Backend, type SendFileOptions } from '../dist/cjs/index.js';
import { expectBytes, hashOf, KiB, MiB, seededBytes, sha256 } from './support/bytes.js';
import { descriptorFlags, epollWatches, expectNoDescriptorLeak, openDescriptors, staleEpollWatches } from './support/descriptors.js';
import { makeTempDir, writeRandomFile, type TempDir, type TestFile } from './support/files.js';
import { PeerProcess } from './support/peer.js';
import { closed, connect, connecting, hasSs, readToEnd, setSocketBuffers, startCollector, startServer, tcpInfo } from './support/sockets.js';
import { eventually, rejection, sleep, track, watchEventLoop, within } from './support/waiting.js';

const caps = capabilities();
const NATIVE = caps.backends.filter((b) => b !== 'stream');
const ALL: Backend[] = [...NATIVE, 'stream'];

const SS = hasSs();

let tmp: TempDir;
let kib: TestFile; // 1 KiB
let small: TestFile; // 100 000 bytes
let medium: TestFile; // 4 MiB + 7: several threadpool steps, more than a socket buffer holds
let big: TestFile; // 48 MiB: far more than a paused peer's buffers hold (about 4 MB here)
let many: TestFile; // 16 MiB, sent to 40 paused peers at once

beforeAll(async () => {
  tmp = makeTempDir();
  kib = writeRandomFile(tmp, 'kib.bin', 1024);
  small = writeRandomFile(tmp, 'small.bin', 100_000);
  medium = writeRandomFile(tmp, 'medium.bin', 4 * MiB + 7);
  big = writeRandomFile(tmp, 'big.bin', 48 * MiB);
  many = writeRandomFile(tmp, 'many.bin', 16 * MiB);
  // The first native transfer starts the addon's poller thread, whose wake-up
  // pipe lives as long as the process: start it here, before any test counts
  // descriptors.
  if (NATIVE.length > 0) {
    const out = await fsp.open(`${tmp.path}/warm-up.out`, 'w');
    await sendFile(out, kib.path, { backend: NATIVE[0] });
    await out.close();
  }
});

afterAll(() => tmp?.remove());

const b = (s: string) => Buffer.from(s);

/** The SHA-256 of the first `n` bytes of headers + file. */
function prefixHash(headers: string, file: Buffer, n: number): string {
  return sha256(b(headers).subarray(0, n), file.subarray(0, Math.max(0, n - headers.length)));
}

/** Whether the kernel still has an established connection on this local port. */
async function stillEstablished(localPort: number): Promise<boolean> {
  return tcpInfo(localPort).then(
    () => true,
    () => false,
  );
}

/** Waits until the kernel no longer counts the connection as established (FIN sent or gone). */
async function expectConnectionClosedByKernel(localPort: number, timeoutMs = 2000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (await stillEstablished(localPort)) {
    if (performance.now() > deadline) {
      expect.fail(`the connection from port ${localPort} is still ESTABLISHED ${timeoutMs} ms after the socket was destroyed`);
    }
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------
describe('ordering in the socket write queue', () => {
  it.each(ALL)('%s: earlier writes go first, writes and end() made while it runs come after the trailers', async (backend) => {
    const fds = openDescriptors();
    const server = await startServer();
    const client = await connect(server.port);
    const received = readToEnd(await server.accepted());

    client.write('before-1|');
    client.write(b('before-2|'));
    const result = sendFile(client, medium.path, { backend, headers: 'HEAD|', trailers: '|TAIL' });
    client.write('after-1|');
    client.write(b('after-2|'));
    client.end('after-end');

    await expect(result).resolves.toEqual({ bytesSent: 5 + medium.data.length + 5, backend });
    expectBytes(
      await received,
      Buffer.concat([b('before-1|before-2|HEAD|'), medium.data, b('|TAIL'), b('after-1|after-2|after-end')]),
    );
    await closed(client);
    await server.close();
    await expectNoDescriptorLeak(fds);
  });

  it('several transfers issued back to back, mixed with writes and backends, arrive in call order', async () => {
    const fds = openDescriptors();
    const server = await startServer();
    const client = await connect(server.port);
    const received = readToEnd(await server.accepted());

    const settledOrder: number[] = [];
    const calls: { promise: Promise<unknown>; bytes: number; backend: Backend }[] = [];
    const expected: Buffer[] = [];
    const write = (s: string) => {
      client.write(s);
      expected.push(b(s));
    };
    const send = (file: TestFile, backend: 'auto' | Backend, opts: { offset?: number; count?: number; headers?: string; trailers?: string }) => {
      const start = opts.offset ?? 0;
      const end = opts.count === undefined ? file.data.length : start + opts.count;
      const bytes = Buffer.concat([b(opts.headers ?? ''), file.data.subarray(start, end), b(opts.trailers ?? '')]);
      const i = calls.length;
      const promise = sendFile(client, file.path, { backend, ...opts });
      void promise.then(() => settledOrder.push(i));
      calls.push({ promise, bytes: bytes.length, backend: backend === 'auto' ? caps.backends[0] : backend });
      expected.push(bytes);
    };

    write('w0|');
    NATIVE.forEach((backend, i) => {
      send(medium, backend, { headers: `[${i}`, trailers: `${i}]` });
      send(small, 'stream', { headers: '[s', trailers: 's]', offset: 1000 + i, count: 50_000 });
      write(`w${i}|`);
      send(kib, backend, { trailers: `${i}]` });
    });
    send(medium, 'auto', { headers: '[a', offset: 123, count: 3 * 1024 * 1024 });
    write('wa|');
    send(small, NATIVE[NATIVE.length - 1], { headers: '[z' });
    send(kib, 'stream', {});
    client.end('end');
    expected.push(b('end'));

    const results = await Promise.all(calls.map((c) => c.promise));
    expect(results).toEqual(calls.map((c) => ({ bytesSent: c.bytes, backend: c.backend })));
    expect(settledOrder).toEqual(calls.map((_, i) => i));
    expectBytes(await received, Buffer.concat(expected));
    await closed(client);
    await server.close();
    await expectNoDescriptorLeak(fds);
  });

  it("transfers inside a cork()ed batch keep their place among the batch's writes", async () => {
    const server = await startServer();
    const client = await connect(server.port);
    const received = readToEnd(await server.accepted());

    // Corked writes reach the socket together, as one _writev batch.
    client.cork();
    client.write('a|');
    const first = sendFile(client, small.path, { backend: NATIVE[0], headers: '<', trailers: '>' });
    client.write('b|');
    client.write('c|');
    const second = sendFile(client, kib.path, { backend: 'stream', headers: '(', trailers: ')' });
    const third = sendFile(client, kib.path, { backend: NATIVE[NATIVE.length - 1] });
    client.write('d|');
    client.uncork();
    client.end();

    await expect(first).resolves.toMatchObject({ bytesSent: small.data.length + 2 });
    await expect(second).resolves.toMatchObject({ bytesSent: kib.data.length + 2 });
    await expect(third).resolves.toMatchObject({ bytesSent: kib.data.length });
    expectBytes(
      await received,
      Buffer.concat([b('a|<'), small.data, b('>b|c|('), kib.data, b(')'), kib.data, b('d|')]),
    );
    await server.close();
  });

  describe.each(['127.0.0.1', 'localhost'])('on a socket still connecting to %s', (host) => {
    it.each<'auto' | Backend>(['auto', ...ALL])('%s: the transfer waits for the connection and uses the backend asked for', async (backend) => {
      const fds = openDescriptors();
      const server = await startServer();
      const client = connecting(server.port, host);
      expect(client.connecting).toBe(true);

      const result = sendFile(client, small.path, { backend, headers: 'H|', trailers: '|T' });
      client.write('after|');
      const second = sendFile(client, kib.path, { backend });
      client.end('end');

      const received = readToEnd(await server.accepted());
      const chosen = backend === 'auto' ? caps.backends[0] : backend;
      await expect(result).resolves.toEqual({ bytesSent: small.data.length + 4, backend: chosen });
      await expect(second).resolves.toEqual({ bytesSent: kib.data.length, backend: chosen });
      expectBytes(await received, Buffer.concat([b('H|'), small.data, b('|T'), b('after|'), kib.data, b('end')]));
      expect(client.errors).toEqual([]);
      await closed(client);
      await server.close();
      await expectNoDescriptorLeak(fds);
    });
  });

  it.each(ALL)('%s: a socket that fails to connect rejects the transfer with the connection error', async (backend) => {
    const server = await startServer();
    const port = server.port;
    await server.close(); // nothing listens there now
    const fds = openDescriptors();
    const client = connecting(port);
    const error = await sendFile(client, small.path, { backend }).then(
      () => expect.fail('resolved'),
      (e) => e,
    );
    expect(error.code).toBe('ECONNREFUSED');
    expect(error.syscall).toBe('connect');
    expect(error.bytesSent ?? 0).toBe(0);
    await closed(client);
    await expectNoDescriptorLeak(fds);
  });

  it.each(ALL)('%s: a transfer still queued behind a write when the socket is destroyed rejects and opens nothing for good', async (backend) => {
    const fds = openDescriptors();
    const server = await startServer((socket) => socket.pause());
    const client = await connect(server.port);
    // More than the connection's buffers hold: this write stays pending.
    client.write(Buffer.alloc(16 * MiB));
    const transfer = track(sendFile(client, small.path, { backend }));
    await sleep(100);
    expect(transfer.settled()).toBe(false);
    client.destroy();
    const outcome = await within(transfer.result, 2000, 'the queued transfer after destroy()');
    expect(outcome.ok).toBe(false);
    expect((outcome as { error: any }).error.code).toBe('ERR_STREAM_DESTROYED');
    await closed(client);
    await server.close();
    await expectNoDescriptorLeak(fds);
  });
});

/**
 * Waits until a transfer to `socket` can go no further while its peer does
 * not read: waiting in the driver (a native backend: its duplicate of the
 * socket in an epoll set), or with bytes in libuv's write queue (stream).
 */
async function waitingForRoom(socket: net.Socket, backend: 'auto' | Backend, settled: () => boolean): Promise<void> {
  const handle = (socket as unknown as { _handle: { fd: number; writeQueueSize: number } })._handle;
  const ino = fstatSync(handle.fd).ino;
  const waiting = backend === 'stream' ? () => handle.writeQueueSize > 0 : () => epollWatches().some((w) => w.ino === ino && w.fd !== handle.fd);
  await eventually(() => {
    if (settled()) expect.fail('the transfer ended before its peer read anything: the socket buffers took it all');
    return waiting();
  }, 'the transfer waiting for its peer to read', 10_000);
}

/**
 * A loopback connection whose buffers (SO_SNDBUF and SO_RCVBUF, both ends)
 * are 4096 bytes, and whose server side does not read until resumed: it
 * takes a few tens of KiB, where loopback's autotuned buffers take MiB.
 */
async function smallBuffersConnection(): Promise<{ server: Awaited<ReturnType<typeof startServer>>; client: net.Socket; peer: net.Socket }> {
  const server = await startServer((peer) => peer.pause());
  setSocketBuffers(server.server, 4096);
  const client = await connect(server.port);
  setSocketBuffers(client, 4096);
  return { server, client, peer: await server.accepted() };
}

// ---------------------------------------------------------------------------
describe('a first attempt that stops part-way: small socket buffers, a peer that reads late', () => {
  // On a connection with small buffers and a peer that does not read yet
  // (smallBuffersConnection), a transfer under sendNow's limit
  // (inlineBytes) stops there in its first attempt (sendNow for 'auto', a
  // Transfer's own attempt for a named backend), in the part this case
  // makes the largest, and the driver sends the rest once the peer reads.
  const SPLITS = {
    headers: { headers: 100_000, file: 1000, trailers: 100 },
    file: { headers: 1000, file: 120_000, trailers: 100 },
    trailers: { headers: 100, file: 1000, trailers: 100_000 },
  };
  const cases = (['auto', ...ALL] as const).flatMap((backend) => Object.keys(SPLITS).map((part) => [backend, part] as [ 'auto' | Backend, keyof typeof SPLITS]));

  it.each(cases)('%s: stopped inside the %s, the rest follows exactly, and bytesSent counts each byte once', async (backend, part) => {
    const sizes = SPLITS[part];
    const headers = seededBytes(`h-${part}`, sizes.headers);
    const trailers = seededBytes(`t-${part}`, sizes.trailers);
    const content = seededBytes(`f-${part}`, sizes.file);
    const path = tmp.write(content);
    const total = sizes.headers + sizes.file + sizes.trailers;
    expect(total, 'small enough for the in-tick attempt').toBeLessThanOrEqual(128 * KiB);

    const fds = openDescriptors();
    const { server, client, peer } = await smallBuffersConnection();
    const progress: number[] = [];
    const transfer = track(sendFile(client, path, { backend, headers, trailers, onProgress: (n) => progress.push(n) }));

    await waitingForRoom(client, backend, transfer.settled);
    if (backend === 'auto') {
      // sendNow reports its count in the tick it returns: where it stopped.
      const start = part === 'headers' ? 0 : part === 'file' ? sizes.headers : sizes.headers + sizes.file;
      const end = start + sizes[part];
      expect(progress[0], `sendNow's count, inside the ${part} [${start}, ${end})`).toBeGreaterThan(start);
      expect(progress[0]).toBeLessThan(end);
    }
    // The peer reads now: the driver (or the stream backend) sends the rest.
    const received = readToEnd(peer);
    peer.resume();
    const outcome = await within(transfer.result, 10_000, 'the transfer once the peer reads');
    expect(outcome).toEqual({ ok: true, value: { bytesSent: total, backend: backend === 'auto' ? caps.backends[0] : backend } });
    client.end();
    expectBytes(await within(received, 10_000, 'the peer reading to the end'), Buffer.concat([headers, content, trailers]));
    await closed(client);
    await server.close();
    await expectNoDescriptorLeak(fds);
  });

  it.each(['aborts its signal', 'destroys the socket'])("an onProgress that hears of sendNow's bytes and %s: nothing more is sent, and the error counts what went", async (what) => {
    const content = seededBytes('stopped-by-progress', 120_000);
    const path = tmp.write(content);
    const fds = openDescriptors();
    const { server, client, peer } = await smallBuffersConnection();
    const controller = new AbortController();
    const seen: number[] = [];
    const onProgress = (n: number) => {
      seen.push(n);
      if (seen.length > 1) return;
      if (what === 'aborts its signal') controller.abort();
      else client.destroy();
    };
    const transfer = sendFile(client, path, { signal: controller.signal, onProgress });
    const expected = what === 'aborts its signal' ? { name: 'AbortError' } : { code: 'ERR_STREAM_DESTROYED' };
    const error = await within(rejection(transfer, expected), 10_000, `the transfer whose onProgress ${what}`);
    expect(seen.length, 'progress reports').toBe(1);
    expect(seen[0], "sendNow's count").toBeLessThan(content.length);
    expect(error.bytesSent).toBe(seen[0]);
    // Bytes went: the socket is destroyed, and its peer gets exactly those.
    expect(client.destroyed).toBe(true);
    const received = readToEnd(peer);
    peer.resume();
    expectBytes(await within(received, 10_000, 'the peer reading to the end'), content.subarray(0, seen[0]));
    await server.close();
    await expectNoDescriptorLeak(fds);
  });
});

// ---------------------------------------------------------------------------
describe('the peer resets the connection mid-transfer', () => {
  const HEAD = 'HEADERS\r\n\r\n';

  it.each(ALL)('%s: a peer process that reads 1 MiB and then resets (SO_LINGER 0)', async (backend) => {
    const peer = await PeerProcess.start({ mode: 'reset', after: MiB });
    try {
      const fds = openDescriptors();
      const client = await connect(peer.port);
      const error = await sendFile(client, big.path, { backend, headers: HEAD, trailers: 'TAIL' }).then(
        () => expect.fail('the transfer resolved although the peer reset the connection'),
        (e) => e,
      );
      expect(['EPIPE', 'ECONNRESET']).toContain(error.code);
      expect(error.syscall).toEqual(expect.any(String));
      expect(error.syscall).not.toBe('');
      expect(error.errno).toBeLessThan(0);
      expect(error.bytesSent).toBeGreaterThan(0);
      expect(error.bytesSent).toBeLessThan(HEAD.length + big.data.length + 4);
      // Half a response is unusable: the socket is gone.
      await closed(client);
      expect(client.destroyed).toBe(true);
      await expectNoDescriptorLeak(fds);
    } finally {
      await peer.stop();
    }
  });

  it.each(ALL)('%s: a peer socket in this process that resets with resetAndDestroy()', async (backend) => {
    const fds = openDescriptors();
    const server = await startServer((socket) => {
      let n = 0;
      socket.on('data', (d: Buffer) => {
        n += d.length;
        if (n >= 256 * 1024 && !socket.destroyed) socket.resetAndDestroy();
      });
    });
    const client = await connect(server.port);
    const error = await sendFile(client, big.path, { backend }).then(
      () => expect.fail('resolved'),
      (e) => e,
    );
    expect(['EPIPE', 'ECONNRESET']).toContain(error.code);
    expect(error.syscall).toEqual(expect.any(String));
    expect(error.bytesSent).toBeGreaterThan(0);
    await closed(client);
    await server.close();
    await expectNoDescriptorLeak(fds);
  });
});

// ---------------------------------------------------------------------------
describe('the socket is destroyed locally mid-transfer', () => {
  const HEAD = 'HEAD\n';

  it.each(ALL)('%s: rejects with ERR_STREAM_DESTROYED and the connection really closes', async (backend) => {
    const peer = await PeerProcess.start({ mode: 'paused' });
    try {
      const fds = openDescriptors();
      const client = await connect(peer.port);
      const port = client.localPort!;
      const id = await peer.idOf(port);
      const transfer = track(sendFile(client, big.path, { backend, headers: HEAD }));
      await sleep(300); // the peer's buffers are full; the transfer is waiting for room
      expect(transfer.settled()).toBe(false);

      client.destroy();
      const outcome = await within(transfer.result, 2000, 'the transfer after destroy()');
      expect(outcome.ok).toBe(false);
      const error = (outcome as { error: any }).error;
      expect(error.code).toBe('ERR_STREAM_DESTROYED');
      expect(error.bytesSent).toBeGreaterThan(0);

      // The kernel closes its side now (FIN queued behind the unread data)...
      if (SS) await expectConnectionClosedByKernel(port);
      // ...and the peer, once it reads what was already sent, sees the end:
      // nothing of ours (the duplicated descriptor) keeps the connection open.
      peer.setMode({ mode: 'sink' }, id);
      const end = await peer.waitFor((e) => e.id === id && e.event === 'end', 3000, 'the peer seeing the end');
      if (backend === 'stream') {
        // Node may have handed part of its last chunk to the kernel.
        expect(end.bytes).toBeGreaterThanOrEqual(error.bytesSent);
      } else {
        expect(end.bytes).toBe(error.bytesSent);
      }
      expect(end.sha256).toBe(prefixHash(HEAD, big.data, end.bytes!));
      await expectNoDescriptorLeak(fds);
    } finally {
      await peer.stop();
    }
  });
});

// ---------------------------------------------------------------------------
describe('abort', () => {
  /** sendFile with an already aborted signal, between two writes of the caller's: AbortError, nothing sent, the socket usable, nothing leaked. */
  async function expectAbortedBeforeCall(input: string, options: SendFileOptions) {
    const fds = openDescriptors();
    const server = await startServer();
    const client = await connect(server.port);
    const received = readToEnd(await server.accepted());
    const controller = new AbortController();
    controller.abort();
    client.write('one|');
    const error = await rejection(sendFile(client, input, { ...options, signal: controller.signal }), { name: 'AbortError', code: 'ABORT_ERR' });
    expect(error.bytesSent ?? 0).toBe(0);
    expect(client.destroyed).toBe(false);
    client.end('two');
    expectBytes(await received, b('one|two'));
    await closed(client);
    await server.close();
    await expectNoDescriptorLeak(fds);
  }

  it.each(ALL)('%s: a signal aborted before the call sends nothing and leaves the socket usable', async (backend) => {
    await expectAbortedBeforeCall(small.path, { backend, headers: 'H' });
  });

  it('a signal aborted before the call wins over a file that cannot be opened: AbortError, nothing sent, the socket usable', async () => {
    await expectAbortedBeforeCall(tmp.file('missing.bin'), {});
  });

  it.each(ALL)('%s: aborting mid-transfer to a paused peer rejects with AbortError and closes the connection', async (backend) => {
    const HEAD = 'H\n';
    const peer = await PeerProcess.start({ mode: 'paused' });
    try {
      const fds = openDescriptors();
      const client = await connect(peer.port);
      const port = client.localPort!;
      const id = await peer.idOf(port);
      const controller = new AbortController();
      const transfer = track(sendFile(client, big.path, { backend, headers: HEAD, signal: controller.signal }));
      await sleep(300);
      expect(transfer.settled()).toBe(false);

      controller.abort();
      const outcome = await within(transfer.result, 2000, 'the transfer after abort()');
      expect(outcome.ok).toBe(false);
      const error = (outcome as { error: any }).error;
      expect(error.name).toBe('AbortError');
      expect(error.bytesSent).toBeGreaterThan(0);
      // Bytes were sent, so the socket cannot carry anything else.
      expect(client.destroyed).toBe(true);
      await closed(client);

      // Not just Node's handle: the connection itself is closed, even though
      // the peer is not reading (a stalled client is why one aborts).
      if (SS) await expectConnectionClosedByKernel(port);
      peer.setMode({ mode: 'sink' }, id);
      const end = await peer.waitFor((e) => e.id === id && e.event === 'end', 3000, 'the peer seeing the end');
      if (backend === 'stream') expect(end.bytes).toBeGreaterThanOrEqual(error.bytesSent);
      else expect(end.bytes).toBe(error.bytesSent);
      expect(end.sha256).toBe(prefixHash(HEAD, big.data, end.bytes!));
      await expectNoDescriptorLeak(fds);
    } finally {
      await peer.stop();
    }
  });
  it("a transfer to a socket's descriptor number, aborted while the driver waits for room, leaves no epoll registration behind and the caller's bytes intact", async () => {
    const fds = openDescriptors();
    const collector = await startCollector({ paused: true });
    const { socket, received } = await collector.connect();
    const peer = await collector.serverSide(socket.localPort!);
    const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
    // The caller's own write fills the connection first, so the transfer
    // finds no room from its start: it waits in the driver and sends nothing.
    const written = randomFillSync(Buffer.allocUnsafe(32 * MiB));
    socket.write(written);
    expect(socket.writableLength, "the kernel's buffers full, part of the write still Node's").toBeGreaterThan(0);
    const controller = new AbortController();
    const transfer = sendFile(fd, medium.path, { signal: controller.signal });
    // The driver's registration: a duplicate of the socket (another number, the same inode).
    const ino = fstatSync(fd).ino;
    const driverWatches = () => epollWatches().filter((w) => w.ino === ino && w.fd !== fd);
    await eventually(() => driverWatches().length > 0, 'the transfer waiting in the driver', 10_000);

    controller.abort();
    const error = await within(rejection(transfer, { name: 'AbortError' }), 10_000, 'the transfer after abort()');
    expect(error.bytesSent).toBe(0);
    // Its duplicate is closed: nothing may still watch that number.
    expect(staleEpollWatches()).toEqual([]);
    expect(driverWatches()).toEqual([]);
    // The socket is the caller's, as the caller left it (non-blocking: else
    // Node's next write of the rest would hold this thread, and the peer
    // that reads in it), and carried only the caller's bytes.
    expect(socket.destroyed).toBe(false);
    expect(descriptorFlags(fd) & fsConstants.O_NONBLOCK, 'O_NONBLOCK').not.toBe(0);
    peer.resume();
    socket.end();
    expectBytes((await within(received, 10_000, 'the peer reading to the end')).data, written);
    await collector.close();
    await expectNoDescriptorLeak(fds);
  });
});

// ---------------------------------------------------------------------------
describe('transfers large and small on TCP and Unix-domain sockets, and what they leave on the socket', () => {
  // medium is past sendNow's and a Transfer's own attempt's limit: the
  // driver arms the socket from the first call and steps it to the end.
  // kib is done at once: by sendNow on TCP ('auto'), else by a Transfer's
  // own attempt (sendNow is for TCP only: its socket is known to be
  // non-blocking, and only TCP takes MSG_MORE and TCP_CORK).
  it.each(['TCP', 'Unix-domain'])('%s: exact bytes with headers and trailers, no epoll registration left, the socket still non-blocking, and the caller\'s writes in place, on every backend', async (kind) => {
    const fds = openDescriptors();
    const collector = await startCollector(kind === 'TCP' ? {} : { unix: tmp.file(`completes-${Date.now()}.sock`) });
    const { socket, received } = await collector.connect();
    const fd = (socket as unknown as { _handle: { fd: number } })._handle.fd;
    const ino = fstatSync(fd).ino;
    const expected: Buffer[] = [];
    for (const backend of ['auto', ...NATIVE] as const) {
      for (const file of [medium, kib]) {
        const [headers, trailers] = [`<${backend}>`, `</${backend}>`];
        const result = await within(sendFile(socket, file.path, { backend, headers, trailers }), 10_000, `the ${backend} transfer`);
        expect(result).toEqual({ bytesSent: headers.length + file.data.length + trailers.length, backend: backend === 'auto' ? caps.backends[0] : backend });
        expected.push(b(headers), file.data, b(trailers));
        // The driver forgot the socket before closing its duplicate: nothing
        // watches a closed number, or the socket under another one.
        expect(staleEpollWatches(), backend).toEqual([]);
        expect(epollWatches().filter((w) => w.ino === ino && w.fd !== fd), backend).toEqual([]);
        // Node's socket is non-blocking, and the transfer leaves it so: a
        // blocking one would hold the JS thread in its next write.
        expect(descriptorFlags(fd) & fsConstants.O_NONBLOCK, `${backend}: O_NONBLOCK`).not.toBe(0);
        socket.write(`|after ${backend}|`);
        expected.push(b(`|after ${backend}|`));
      }
    }
    socket.end();
    expectBytes((await within(received, 10_000, 'the peer reading to the end')).data, Buffer.concat(expected));
    await collector.close();
    await expectNoDescriptorLeak(fds);
  });
});

// ---------------------------------------------------------------------------
describe('transfers waiting for paused readers', () => {
  it('leave the event loop and the threadpool free, and all complete once the readers read', async () => {
    const N = 40;
    const peer = await PeerProcess.start({ mode: 'paused' });
    try {
      const fds = openDescriptors();
      const sockets = await Promise.all(Array.from({ length: N }, () => connect(peer.port)));
      const ids = await Promise.all(sockets.map((s) => peer.idOf(s.localPort!)));
      const HEAD = 'BEGIN\n';
      const trailer = (i: number) => `\nEND ${i}\n`;
      const transfers = sockets.map((socket, i) => {
        const t = track(sendFile(socket, many.path, { headers: HEAD, trailers: trailer(i), backend: NATIVE[i % NATIVE.length] }));
        socket.end(); // queued behind the transfer
        return t;
      });

      await sleep(500); // every transfer fills its connection and waits for room
      expect(transfers.filter((t) => t.settled())).toEqual([]);

      // All N transfers are now waiting for writability. If that wait
      // happened on the event loop, these 10 ms timers would not fire until
      // the peers read (which they never do unless told), and if it happened
      // on threadpool threads, the 4 of them would all be taken and the fs
      // calls below would never complete. 250 ms of lateness is a generous
      // allowance for a loaded machine, not a speed requirement.
      const loop = watchEventLoop(10);
      await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          within<unknown>(i % 2 ? fsp.stat(many.path) : fsp.readFile(small.path), 3000, `fs call ${i} while transfers wait`),
        ),
      );
      await sleep(500);
      const { maxLatenessMs, ticks } = loop.stop();
      expect(maxLatenessMs).toBeLessThan(250);
      expect(ticks).toBeGreaterThan(10);
      expect(transfers.filter((t) => t.settled())).toEqual([]);

      peer.setMode({ mode: 'sink' });
      const outcomes = await within(Promise.all(transfers.map((t) => t.result)), 30_000, 'transfers after the readers resumed');
      const prefix = hashOf(HEAD, many.data);
      outcomes.forEach((o, i) => {
        expect(o).toEqual({
          ok: true,
          value: { bytesSent: HEAD.length + many.data.length + trailer(i).length, backend: NATIVE[i % NATIVE.length] },
        });
      });
      for (let i = 0; i < N; i++) {
        const end = await peer.waitFor((e) => e.id === ids[i] && e.event === 'end', 10_000, `connection ${i} ending`);
        expect(end.bytes).toBe(HEAD.length + many.data.length + trailer(i).length);
        expect(end.sha256).toBe(prefix.copy().update(trailer(i)).digest('hex'));
      }
      await Promise.all(sockets.map(closed));
      await expectNoDescriptorLeak(fds);
    } finally {
      await peer.stop();
    }
  });
});

// ---------------------------------------------------------------------------
describe.skipIf(!SS)('TCP segments (read with ss -tin)', () => {
  const HEAD = 'HTTP/1.1 200 OK\r\nContent-Length: 1026\r\n\r\n';
  const TAIL = '\r\n';

  // With a trailer, the Linux backend corks the socket; without one, the
  // headers go with MSG_MORE ('auto': by sendNow), held for the file's bytes.
  const cases: ['auto' | Backend, string, string][] = [
    ['sendfile', 'a trailer', TAIL],
    ['sendfile', 'no trailer', ''],
    ['auto', 'no trailer', ''],
    ['stream', 'a trailer', TAIL],
  ];
  it.each(cases.filter(([x]) => x === 'auto' || caps.backends.includes(x)))(
    '%s: a small header, a 1 KiB file and %s leave as one segment, and the socket is not left corked',
    async (backend, _, trailer) => {
      const server = await startServer();
      const client = await connect(server.port);
      client.setNoDelay(true);
      const peerSocket = await server.accepted();
      let got = 0;
      peerSocket.on('data', (d: Buffer) => (got += d.length));
      const port = client.localPort!;
      const total = HEAD.length + kib.data.length + trailer.length;

      const before = await tcpInfo(port);
      await expect(sendFile(client, kib.path, { backend, headers: HEAD, trailers: trailer })).resolves.toEqual({
        bytesSent: total,
        backend: backend === 'auto' ? caps.backends[0] : backend,
      });
      await within(
        (async () => {
          while (got < total) await sleep(5);
        })(),
        2000,
        'the peer receiving the response',
      );
      const after = await tcpInfo(port);
      expect(after.bytesSent - before.bytesSent).toBe(total);
      expect(after.dataSegsOut - before.dataSegsOut).toBe(1);

      // The cork is off again: a plain write goes out as soon as it is made.
      // (Left corked, it would sit in the socket for up to 200 ms, and ss,
      // run right after the write completes, would see it unsent.)
      await new Promise<void>((resolve, reject) => client.write('ping', (e) => (e ? reject(e) : resolve())));
      const ping = await tcpInfo(port);
      expect(ping.notsent).toBe(0);
      expect(ping.dataSegsOut - after.dataSegsOut).toBe(1);
      expect(ping.bytesSent - after.bytesSent).toBe(4);

      client.destroy();
      await server.close();
    },
  );
});

// ---------------------------------------------------------------------------
describe('idle timeout (socket.setTimeout)', () => {
  // Timing-based by nature: a machine so loaded that the peer process is not
  // scheduled for 300 ms lets the timeout fire legitimately, so a failed
  // attempt gets two more. Progress that does not count as activity fails
  // every attempt.
  it.for(ALL)('%s: progress to a slow but steady reader counts as activity', { retry: 2 }, async (backend) => {
    // The peer reads about 32 MiB/s, so 48 MiB, less the few MB the buffers
    // take at once, keep it reading for about 1.3 s: four timeouts' worth.
    // The sender can only make progress when a third of its send buffer has
    // drained, every 50-100 ms at this rate (about twice that at 16 MiB/s,
    // too close to 300 ms on a busy machine).
    const peer = await PeerProcess.start({ mode: 'slow', rate: 32 * MiB });
    try {
      const client = await connect(peer.port);
      const id = await peer.idOf(client.localPort!);
      let timeouts = 0;
      client.setTimeout(300, () => timeouts++);
      const count = big.data.length;
      const started = performance.now();
      await expect(sendFile(client, big.path, { backend, count })).resolves.toEqual({ bytesSent: count, backend });
      const elapsed = performance.now() - started;
      client.end();
      const end = await peer.waitFor((e) => e.id === id && e.event === 'end', 5000, 'the peer reading to the end');
      expect(end.sha256).toBe(sha256(big.data.subarray(0, count)));
      expect(elapsed, 'the transfer should have lasted several timeouts for this check to mean anything').toBeGreaterThan(900);
      expect(timeouts).toBe(0);
      client.destroy();
    } finally {
      await peer.stop();
    }
  });

  it.each(ALL)("%s: a fully paused reader lets 'timeout' fire while the transfer waits", async (backend) => {
    const peer = await PeerProcess.start({ mode: 'paused' });
    try {
      const fds = openDescriptors();
      const client = await connect(peer.port);
      const transfer = track(sendFile(client, big.path, { backend }));
      const timedOut = new Promise<number>((resolve) => {
        const started = performance.now();
        client.setTimeout(300, () => resolve(performance.now() - started));
      });
      await within(timedOut, 3000, "the 'timeout' event");
      expect(transfer.settled()).toBe(false);
      // What users do on 'timeout':
      client.destroy();
      const outcome = await within(transfer.result, 2000, 'the transfer after destroy()');
      expect(outcome.ok).toBe(false);
      expect((outcome as { error: any }).error.code).toBe('ERR_STREAM_DESTROYED');
      await expectNoDescriptorLeak(fds);
    } finally {
      await peer.stop();
    }
  });
});

// ---------------------------------------------------------------------------
describe('HTTP', () => {
  it('a handler that answers with sendFile(req.socket, ...) serves an http client the exact body', async () => {
    const fds = openDescriptors();
    const served: Promise<unknown>[] = [];
    const server = http.createServer((req) => {
      // The whole response (status line, headers, body) goes through
      // sendFile; `res` is not used.
      const sending = sendFile(req.socket, medium.path, {
        headers: `HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${medium.data.length}\r\nConnection: close\r\n\r\n`,
      });
      served.push(sending);
      void sending.then(() => req.socket.end(), () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as net.AddressInfo;

    const response = await new Promise<{ status?: number; length?: string; body: Buffer }>((resolve, reject) => {
      http
        .get({ host: '127.0.0.1', port, path: '/file', agent: false }, (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (d: Buffer) => chunks.push(d));
          res.on('end', () => resolve({ status: res.statusCode, length: res.headers['content-length'], body: Buffer.concat(chunks) }));
          res.on('error', reject);
        })
        .on('error', reject);
    });
    expect(response.status).toBe(200);
    expect(response.length).toBe(String(medium.data.length));
    expectBytes(response.body, medium.data);
    await expect(Promise.all(served)).resolves.toEqual([{ bytesSent: expect.any(Number), backend: caps.backends[0] }]);

    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await expectNoDescriptorLeak(fds);
  });
});
