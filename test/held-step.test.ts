// An abort or a destroy that lands while the driver is inside a step's
// system call: a race no timing hits reliably, made to happen every time by
// the shims' hold (test/shims/shim.h). So this file runs on the FreeBSD shim
// build, whose driver and Transfer are the same code as the Linux build's
// (ZEROCOPY_TEST_SHIM_ADDON names another build of it: scripts/mutate.js
// passes its mutants'). Every call the driver makes asks our Unix socket
// first; the one a test waits for stays held until the test has aborted or
// destroyed.
import { once } from 'node:events';
import { createRequire } from 'node:module';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { expectBytes, KiB, MiB } from './support/bytes.js';
import { expectNoDescriptorLeak, openDescriptors } from './support/descriptors.js';
import { makeTempDir, writeRandomFile, type TempDir, type TestFile } from './support/files.js';
import { startCollector, type Collector } from './support/sockets.js';
import { rejection, within } from './support/waiting.js';

const { addonPath } = createRequire(__filename)('../scripts/build-test-addons.js') as { addonPath: (name: string) => string };

type Api = typeof import('../dist/cjs/index.js');

interface Held {
  /** Header bytes the call was asked to send, before the file. */
  headers: number;
  /** Where in the file it was asked to start. */
  offset: number;
  /** Lets the held call go on. */
  release(): void;
}

/** The shims' side of a hold: each call they make off the main thread connects here first, says what it is about to send, and waits for us to close. */
async function startHold(path: string): Promise<{ next(): Promise<Held>; releaseAll(): void; close(): Promise<void> }> {
  const waiting: ((held: Held) => void)[] = [];
  const calls = new Set<net.Socket>();
  const server = net.createServer((call) => {
    calls.add(call);
    call.on('close', () => calls.delete(call));
    call.on('error', () => {});
    let line = '';
    call.setEncoding('latin1');
    call.on('data', function onLine(chunk: string) {
      line += chunk;
      if (!line.endsWith('\n')) return;
      call.off('data', onLine);
      const [headers, offset] = line.trim().split(' ').map(Number);
      const taker = waiting.shift();
      // Nobody asked for this call: it goes on at once.
      if (!taker) return void call.end();
      taker({ headers, offset, release: () => call.end() });
    });
  });
  await new Promise<void>((resolve) => server.listen(path, resolve));
  // A test that failed before releasing its call must not leave the driver stuck for the next ones.
  const releaseAll = () => {
    waiting.length = 0;
    for (const call of calls) call.end();
  };
  return {
    next: () => new Promise((resolve) => waiting.push(resolve)),
    releaseAll,
    close: () => {
      releaseAll();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}

const HEAD = 'HEAD\n';

let api: Api;
let tmp: TempDir;
let file: TestFile; // far more than a socket's buffers hold, and past the JS-thread attempt
let hold: Awaited<ReturnType<typeof startHold>>;

beforeAll(async () => {
  tmp = makeTempDir();
  file = writeRandomFile(tmp, 'data.bin', 8 * MiB);
  process.env.ZEROCOPY_ADDON = process.env.ZEROCOPY_TEST_SHIM_ADDON || addonPath('freebsd');
  process.env.ZEROCOPY_SHIM_HOLD = tmp.file('hold.sock');
  hold = await startHold(process.env.ZEROCOPY_SHIM_HOLD);
  api = await import('../dist/cjs/index.js');
  expect(api.capabilities().waiter, `${process.env.ZEROCOPY_ADDON} is not the FreeBSD shim build`).toBe('kqueue');
  // The first transfer starts the driver, whose descriptors live as long as
  // the process: start it here, before any test counts descriptors.
  const collector = await startCollector();
  const { socket, received } = await collector.connect();
  const warm = writeRandomFile(tmp, 'warm.bin', 256 * KiB);
  await api.sendFile(socket, warm.path);
  socket.end();
  expectBytes((await received).data, warm.data);
  await collector.close();
});

afterEach(() => hold.releaseAll());

afterAll(async () => {
  await hold?.close();
  tmp?.remove();
});

// Both kinds of stream socket a Transfer tells apart (TCP, and any other:
// Unix-domain), since what an abort does to the connection depends on it.
let unixSockets = 0;
const OUTPUTS: [string, (options?: { paused?: boolean }) => Promise<Collector>][] = [
  ['TCP', (options) => startCollector(options)],
  ['Unix-domain', (options) => startCollector({ ...options, unix: tmp.file(`peer-${++unixSockets}.sock`) })],
];

describe.each(OUTPUTS)('the driver, on a %s socket', (_, startPeer) => {
  it("makes a transfer past the JS thread's limit from its first call: nothing moves on the JS thread, and the peer gets the exact bytes", async () => {
    const collector = await startPeer();
    const { socket, received } = await collector.connect();
    const held = hold.next();
    const transfer = api.sendFile(socket, file.path, { headers: HEAD });
    const call = await within(held, 10_000, "the driver's first call reaching the hold");
    expect({ headers: call.headers, offset: call.offset }).toEqual({ headers: HEAD.length, offset: 0 });
    call.release();
    expect(await within(transfer, 10_000, 'the transfer')).toEqual({ bytesSent: HEAD.length + file.data.length, backend: 'sendfile' });
    socket.end();
    expectBytes((await within(received, 10_000, 'the peer reading to the end')).data, Buffer.concat([Buffer.from(HEAD), file.data]));
    await collector.close();
  });
});

describe.each(OUTPUTS)('an abort that lands while a step is in its system call, on a %s socket', (_, startPeer) => {
  it('destroy(): the call sends nothing more, the transfer rejects with ERR_STREAM_DESTROYED, and the peer sees the connection end', async () => {
    const fds = openDescriptors();
    const collector = await startPeer();
    const { socket, received } = await collector.connect();
    const held = hold.next();
    const transfer = api.sendFile(socket, file.path, { headers: HEAD });
    const call = await within(held, 10_000, "the driver's first call reaching the hold");
    expect({ headers: call.headers, offset: call.offset }, "the transfer's first call").toEqual({ headers: HEAD.length, offset: 0 });

    // sendFile hears of the destroy from 'close', a turn of the loop later.
    const gone = once(socket, 'close');
    socket.destroy();
    await gone;
    call.release();
    const error = await within(rejection(transfer, { code: 'ERR_STREAM_DESTROYED' }), 10_000, 'the transfer after destroy()');
    expect(error.bytesSent).toBe(0);
    // The call was held before it moved anything: the connection was shut
    // down under it, so the peer gets no byte at all, and its end.
    const got = await within(received, 10_000, 'the peer seeing the connection end');
    expect(got.data.length).toBe(0);
    await collector.close();
    await expectNoDescriptorLeak(fds);
  });

  it('a signal: the transfer settles when the call returns, though the peer never reads again, with AbortError and the exact count the peer gets', async () => {
    const fds = openDescriptors();
    const collector = await startPeer({ paused: true });
    const { socket, received, peer: serverSide } = await collector.connect();
    const peer = await serverSide;
    const controller = new AbortController();
    const held = hold.next();
    const transfer = api.sendFile(socket, file.path, { headers: HEAD, signal: controller.signal });
    const call = await within(held, 10_000, "the driver's first call reaching the hold");

    controller.abort();
    call.release();
    // The call fills the paused peer's buffers and returns EAGAIN; nothing
    // will make the socket writable again, so only the abort ends this.
    const error = await within(rejection(transfer, { name: 'AbortError', code: 'ABORT_ERR' }), 10_000, 'the transfer aborted during its call');
    expect(error.bytesSent).toBeGreaterThan(0);
    // Part of the file went: the socket is destroyed, and the connection
    // ends after exactly the bytes the error counts.
    expect(socket.destroyed).toBe(true);
    peer.resume();
    const got = await within(received, 10_000, 'the peer seeing the connection end');
    expectBytes(got.data, Buffer.concat([Buffer.from(HEAD), file.data]).subarray(0, error.bytesSent));
    await collector.close();
    await expectNoDescriptorLeak(fds);
  });
});
