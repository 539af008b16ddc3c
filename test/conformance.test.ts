// The conformance suite every native build must pass: the Linux build, each
// other system's backend compiled against its syscall shim (with and
// without injected faults), and the portable fallback build. vitest.config.ts
// runs this file once per build, naming it in ZEROCOPY_TEST_BUILD.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, receiveFile, relay, sendFile } from '../dist/cjs/index.js';
import { seededBytes } from './support/bytes.js';
import { tcpPair } from './support/pairs.js';
import { eventually, within } from './support/waiting.js';

const build = process.env.ZEROCOPY_TEST_BUILD ?? 'linux';
const faults = process.env.ZEROCOPY_SHIM_FAULTS;

// What each build must say about itself.
// Shimmed builds wait through their system's waiter on its shim
// (test/shims/kqueue.c, ports.c, devpoll.c); the fallback build with poll(2).
const expected: Record<string, { first: string; headersTrailers: string; zeroCopy: boolean; toFile: boolean; waiter: string }> = {
  linux: { first: 'sendfile', headersTrailers: 'cork', zeroCopy: true, toFile: true, waiter: 'epoll' },
  solaris: { first: 'sendfilev', headersTrailers: 'vector', zeroCopy: true, toFile: false, waiter: 'ports' },
  hpux: { first: 'sendfile', headersTrailers: 'vector', zeroCopy: true, toFile: false, waiter: 'devpoll' },
  freebsd: { first: 'sendfile', headersTrailers: 'vector', zeroCopy: true, toFile: false, waiter: 'kqueue' },
  darwin: { first: 'sendfile', headersTrailers: 'vector', zeroCopy: true, toFile: false, waiter: 'kqueue' },
  fallback: { first: 'mmap', headersTrailers: 'copy', zeroCopy: false, toFile: true, waiter: 'poll' },
};

const caps = capabilities();
const nativeBackends = caps.backends.filter((b) => b !== 'stream');
// The Linux build checks all its backends; the others check their own, the
// one that differs from build to build.
const underTest = build === 'linux' ? nativeBackends : nativeBackends.slice(0, 1);

let dir: string;
let file: string;
let content: Buffer;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'zc-conf-'));
  file = join(dir, 'data.bin');
  content = randomBytes(6 << 20);
  writeFileSync(file, content);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A seeded generator, so a failing case can be replayed. */
function prng(seed: number) {
  let s = seed >>> 0 || 1;
  return (n: number) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

interface Peer {
  client: net.Socket;
  server: net.Socket;
  /** Everything the server side received, once the client ends. */
  received: Promise<Buffer>;
  close(): void;
}

async function connect(): Promise<Peer> {
  const listener = net.createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => listener.once('connection', resolve));
  const client = net.connect((listener.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise((resolve) => client.once('connect', resolve));
  const server = await accepted;
  listener.close();
  const chunks: Buffer[] = [];
  server.on('data', (chunk) => chunks.push(chunk));
  const received = new Promise<Buffer>((resolve) => server.on('close', () => resolve(Buffer.concat(chunks))));
  server.on('end', () => server.end());
  server.on('error', () => {});
  client.on('error', () => {});
  return { client, server, received, close: () => (client.destroy(), server.destroy()) };
}

const parts = (r: (n: number) => number): Buffer[] =>
  Array.from({ length: r(4) }, () => randomBytes(r(3) === 0 ? r(40_000) : r(300)));

describe(`conformance: ${build} build${faults ? ` with faults (seed ${faults})` : ''}`, () => {
  it('reports what this build can do', () => {
    const want = expected[build];
    expect(caps.native).toBe(true);
    expect(caps.backends[0]).toBe(want.first);
    expect(caps.backends.at(-1)).toBe('stream');
    expect(caps.headersTrailers).toBe(want.headersTrailers);
    expect(caps.zeroCopy).toBe(want.zeroCopy);
    expect(caps.backends).toContain('readwrite');
    expect(caps.waiter).toBe(want.waiter);
  });

  it('delivers small transfers byte for byte, at once or the rest through the driver', async () => {
    // Small enough for the attempt on the JS thread; with faults, its calls
    // stop at random points with EAGAIN, and the driver sends the rest.
    const r = prng(Number(faults ?? 0) * 1000 + 77);
    const small = (n: number) => randomBytes(r(n));
    const peer = await connect();
    const want: Buffer[] = [];
    let total = 0;
    for (let round = 0; round < 60; round++) {
      const headers = r(4) === 0 ? [] : [small(3000), small(300)];
      const trailers = r(3) === 0 ? [] : [small(2000)];
      const offset = r(content.length - 100_000);
      const count = r(100_000);
      const result = await sendFile(peer.client, file, { offset, count, headers, trailers });
      const bytes = Buffer.concat([...headers, content.subarray(offset, offset + count), ...trailers]);
      expect({ round, bytesSent: result.bytesSent, backend: result.backend }).toEqual({ round, bytesSent: bytes.length, backend: caps.backends[0] });
      want.push(bytes);
      total += bytes.length;
    }
    peer.client.end();
    const got = await peer.received;
    expect({ length: got.length, equal: got.equals(Buffer.concat(want)) }).toEqual({ length: total, equal: true });
  });

  describe.each(underTest)('%s', (backend) => {
    it('delivers random headers, ranges and trailers byte for byte', async () => {
      const seed = Number(faults ?? 0) * 1000 + backend.length;
      const r = prng(seed);
      for (let round = 0; round < 12; round++) {
        const headers = parts(r);
        const trailers = parts(r);
        const offset = r(content.length);
        const count = r(4) === 0 ? 0 : r(content.length - offset + 1);
        const peer = await connect();
        // A peer that stops reading for a while makes the output fill up.
        if (r(3) === 0) {
          peer.server.pause();
          setTimeout(() => peer.server.resume(), 30);
        }
        const result = await sendFile(peer.client, file, { offset, count, headers, trailers, backend });
        peer.client.end();
        const want = Buffer.concat([...headers, content.subarray(offset, offset + count), ...trailers]);
        const got = await peer.received;
        expect({ seed, round, equal: got.equals(want), length: got.length }).toEqual({
          seed,
          round,
          equal: true,
          length: want.length,
        });
        expect(result).toEqual({ bytesSent: want.length, backend });
      }
    });

    it('property: random files, offsets, counts, header and trailer vectors arrive byte for byte', async () => {
      const chunk = fc.oneof(fc.string({ maxLength: 30 }), fc.uint8Array({ maxLength: 3000 }), fc.constant(''));
      const vector = fc.array(chunk, { maxLength: 20 });
      const arb = fc
        .record({ seed: fc.nat(), size: fc.oneof(fc.nat(70_000), fc.constantFrom(0, 1, 4095, 4096, 4097, 300_000)), headers: vector, trailers: vector, paused: fc.boolean() })
        .chain((c) => fc.record({ c: fc.constant(c), offset: fc.nat(c.size), count: fc.option(fc.nat(c.size), { nil: undefined }) }));
      let run = 0;
      await fc.assert(
        fc.asyncProperty(arb, async ({ c, offset, count: wanted }) => {
          const bytes = seededBytes(c.seed, c.size);
          const path = join(dir, `property-${backend}-${run++}.bin`);
          writeFileSync(path, bytes);
          const count = wanted === undefined ? undefined : Math.min(wanted, c.size - offset);
          const peer = await connect();
          try {
            if (c.paused) {
              peer.server.pause();
              setTimeout(() => peer.server.resume(), 10);
            }
            const result = await sendFile(peer.client, path, { offset, count, headers: c.headers, trailers: c.trailers, backend });
            peer.client.end();
            const want = Buffer.concat([...c.headers.map((h) => Buffer.from(h)), bytes.subarray(offset, count === undefined ? undefined : offset + count), ...c.trailers.map((t) => Buffer.from(t))]);
            const got = await peer.received;
            expect(got.equals(want), `${got.length} bytes arrived, ${want.length} sent`).toBe(true);
            expect(result).toEqual({ bytesSent: want.length, backend });
          } finally {
            peer.close();
            rmSync(path);
          }
        }),
        { numRuns: Number(process.env.FC_RUNS ?? 15), seed: process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED) },
      );
    });

    it('sends headers and trailers alone when the range is empty', async () => {
      const peer = await connect();
      const a = await sendFile(peer.client, file, { offset: 5, count: 0, headers: ['he', 'ad'], trailers: 'tail', backend });
      const b = await sendFile(peer.client, file, { offset: content.length, headers: 'H', backend });
      const c = await sendFile(peer.client, file, { count: 0n, backend });
      peer.client.end();
      expect((await peer.received).toString()).toBe('headtailH');
      expect([a.bytesSent, b.bytesSent, c.bytesSent]).toEqual([8, 1, 0]);
    });

    it('sends a whole large file through a slow reader', async () => {
      const peer = await connect();
      peer.server.pause();
      const sending = sendFile(peer.client, file, { headers: 'begin', trailers: 'end', backend });
      await new Promise((resolve) => setTimeout(resolve, 50));
      peer.server.resume();
      const result = await sending;
      peer.client.end();
      const got = await peer.received;
      expect(got.equals(Buffer.concat([Buffer.from('begin'), content, Buffer.from('end')]))).toBe(true);
      expect(result.bytesSent).toBe(content.length + 8);
    });

    it('rejects a file that shrank during the transfer, having sent only a true prefix', async () => {
      const copy = join(dir, `shrinking-${backend}.bin`);
      writeFileSync(copy, content);
      const peer = await connect();
      peer.server.pause();
      const sending = sendFile(peer.client, copy, { headers: 'head', trailers: 'tail', backend });
      sending.catch(() => {});
      await new Promise((resolve) => setTimeout(resolve, 100));
      // Truncated by another process, as a log rotation would.
      await new Promise((resolve, reject) =>
        spawn('truncate', ['-s', String(1 << 20), copy]).on('exit', resolve).on('error', reject),
      );
      peer.server.resume();
      const error = await sending.then(
        () => undefined,
        (e) => e,
      );
      expect(error?.code).toBe('ERR_FILE_TRUNCATED');
      expect(error.bytesSent).toBeGreaterThan(0);
      expect(error.bytesSent).toBeLessThan(content.length + 8);
      const got = await peer.received;
      const want = Buffer.concat([Buffer.from('head'), content]);
      expect(got.length).toBeLessThanOrEqual(error.bytesSent);
      // Zero-copy backends queue references to the file's pages, not copies:
      // bytes queued before the truncation but still unsent read as the
      // file now reads (zeros). Up to the new end, every byte is true.
      const trusted = backend === 'mmap' || backend === 'readwrite' ? got.length : Math.min(got.length, 4 + (1 << 20));
      expect(got.subarray(0, trusted).equals(want.subarray(0, trusted))).toBe(true);
    });

    it('reports progress that only grows and ends at bytesSent', async () => {
      const peer = await connect();
      peer.server.pause();
      setTimeout(() => peer.server.resume(), 30);
      const seen: number[] = [];
      const result = await sendFile(peer.client, file, { headers: 'h', backend, onProgress: (n) => seen.push(n) });
      peer.client.end();
      await peer.received;
      expect(seen.length).toBeGreaterThan(0);
      expect(seen.every((n, i) => i === 0 || n > seen[i - 1])).toBe(true);
      expect(seen.at(-1)).toBe(result.bytesSent);
      await expect(sendFile(peer.client, file, { onProgress: 5 as never })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_TYPE' });
    });

    it('refuses a file already too short, sending nothing and leaving the socket usable', async () => {
      const peer = await connect();
      const error = await sendFile(peer.client, file, { offset: 10, count: content.length, headers: 'x', backend }).catch(
        (e) => e,
      );
      expect(error.code).toBe('ERR_FILE_TRUNCATED');
      peer.client.end('still usable');
      expect((await peer.received).toString()).toBe('still usable');
    });

    it(expected[build].toFile || backend !== nativeBackends[0] ? 'writes to a regular file' : 'refuses a regular file output', async () => {
      const outPath = join(dir, `out-${backend}.bin`);
      const out = await open(outPath, 'w');
      await out.write('existing:'); // the transfer goes on from here
      try {
        const sending = sendFile(out, file, { offset: 1000, count: 100_000, headers: '<', trailers: '>', backend });
        if (expected[build].toFile || backend !== nativeBackends[0]) {
          expect(await sending).toEqual({ bytesSent: 100_002, backend });
          expect(readFileSync(outPath).equals(Buffer.concat([Buffer.from('existing:<'), content.subarray(1000, 101_000), Buffer.from('>')]))).toBe(true);
        } else {
          await expect(sending).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
          // 'auto' finds a backend that can.
          const viaAuto = await sendFile(out, file, { count: 10 });
          expect(nativeBackends).toContain(viaAuto.backend);
          expect(readFileSync(outPath).subarray(9).equals(content.subarray(0, 10))).toBe(true);
        }
      } finally {
        await out.close();
      }
    });
  });

  /** Our read leases, from /proc/locks. */
  const ourLeases = () => readFileSync('/proc/locks', 'utf8').split('\n').filter((l) => new RegExp(`LEASE\\s+ACTIVE\\s+READ\\s+${process.pid}\\s`).test(l));
  /** Runs a command to its end: its exit code and what it said. */
  const run = (command: string, args: string[]) =>
    new Promise<{ code: number | null; stderr: string }>((resolve, reject) => {
      const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (d) => (stderr += d));
      child.on('error', reject).on('close', (code) => resolve({ code, stderr }));
    });

  it.runIf(nativeBackends.includes('mmap'))('mmap takes no lease unless asked: coreutils truncate cuts the file, and the transfer sends up to the new end', async () => {
    // Larger than the socket buffers a paused peer leaves room for (a few MiB).
    const big = Buffer.concat([content, content, content, content, content]);
    const copy = join(dir, 'unleased.bin');
    writeFileSync(copy, big);
    const peer = await connect();
    peer.server.pause();
    let started!: () => void;
    const underWay = new Promise<void>((resolve) => (started = resolve));
    const sending = sendFile(peer.client, copy, { headers: 'head', backend: 'mmap', onProgress: () => started() });
    sending.catch(() => {});
    await within(underWay, 10_000, 'the first progress report');
    expect(ourLeases()).toEqual([]);
    // Past what the buffers took, and not on a page: the file's last page is
    // part file, part zeros.
    const cut = 4 * content.length + 4097;
    expect(await run('truncate', ['-s', String(cut), copy])).toEqual({ code: 0, stderr: '' });
    peer.server.resume();
    const error = await sending.then(
      () => undefined,
      (e) => e,
    );
    expect(error?.code).toBe('ERR_FILE_TRUNCATED');
    // Every byte up to the new end. A write that started inside the last
    // page may also have taken the zeros after the end, up to the next page
    // (a short write, from the shims' injected faults, can leave one there).
    expect(error.bytesSent).toBeGreaterThanOrEqual(4 + cut);
    expect(error.bytesSent - 4 - cut).toBeLessThan(64 * 1024);
    peer.client.end();
    const got = await peer.received;
    expect(got.length).toBe(error.bytesSent);
    expect(got.subarray(0, 4 + cut).equals(Buffer.concat([Buffer.from('head'), big.subarray(0, cut)]))).toBe(true);
    expect(got.subarray(4 + cut).every((byte) => byte === 0)).toBe(true);
  });

  /** Starts an mmap transfer with lease: true of a fresh copy of the content to a paused peer; resolves once it holds its lease. */
  async function leasedTransfer(name: string) {
    const copy = join(dir, name);
    writeFileSync(copy, content);
    const peer = await connect();
    peer.server.pause();
    const sending = sendFile(peer.client, copy, { backend: 'mmap', lease: true });
    sending.catch(() => {});
    await eventually(() => ourLeases().length === 1, () => `one lease of ours, not ${ourLeases().length}`, 10_000);
    const outcome = async () => {
      peer.server.resume();
      const error = await sending.then(
        () => undefined,
        (e) => e,
      );
      peer.close();
      return error?.code;
    };
    return { copy, outcome };
  }

  it.runIf(nativeBackends.includes('mmap') && caps.leases)('mmap with lease: true holds a read lease that a writer breaks without waiting', async () => {
    const { copy, outcome } = await leasedTransfer('leased.bin');
    // The kernel holds a blocking opener until the lease is given up (45 s
    // by default); ours is given up at once even with the peer paused.
    const started = Date.now();
    expect(await run(process.execPath, ['-e', 'require("node:fs").truncateSync(process.argv[1], 0)', copy])).toEqual({ code: 0, stderr: '' });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(ourLeases()).toEqual([]);
    expect(await outcome()).toBe('ERR_FILE_TRUNCATED');
  });

  it.runIf(nativeBackends.includes('mmap') && caps.leases)('mmap with lease: true: an opener with O_NONBLOCK (coreutils truncate) is refused, and the transfer stops', async () => {
    const { copy, outcome } = await leasedTransfer('leased-nonblocking.bin');
    // The open fails with EAGAIN while the lease is held, and breaks it all the same.
    const refused = await run('truncate', ['-s', '0', copy]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/Resource temporarily unavailable/);
    expect(readFileSync(copy).length).toBe(content.length);
    expect(await outcome()).toBe('ERR_FILE_TRUNCATED');
  });

  it('appends to a file opened for appending, with a backend that can', async () => {
    const outPath = join(dir, 'appended.bin');
    writeFileSync(outPath, 'log:');
    const out = await open(outPath, 'a');
    try {
      const result = await sendFile(out, file, { count: 1000, trailers: '.' });
      expect(nativeBackends).toContain(result.backend);
      expect(readFileSync(outPath).equals(Buffer.concat([Buffer.from('log:'), content.subarray(0, 1000), Buffer.from('.')]))).toBe(true);
      // Linux sendfile(2) and copy_file_range(2) refuse O_APPEND outputs.
      if (build === 'linux') {
        await expect(sendFile(out, file, { count: 10, backend: 'sendfile' })).rejects.toMatchObject({ code: 'ERR_INVALID_ARG_VALUE' });
      }
    } finally {
      await out.close();
    }
  });

  it('keeps fd inputs open and where they were', async () => {
    const fd = openSync(file, 'r');
    try {
      const probe = Buffer.alloc(7);
      const { readSync } = await import('node:fs');
      readSync(fd, probe, 0, 7, null); // position is now 7
      const peer = await connect();
      await sendFile(peer.client, fd, { offset: 100, count: 5000 });
      peer.client.end();
      expect((await peer.received).equals(content.subarray(100, 5100))).toBe(true);
      readSync(fd, probe, 0, 7, null);
      expect(probe.equals(content.subarray(7, 14))).toBe(true);
    } finally {
      closeSync(fd);
    }
  });

  it('truncateSync in this very process cannot deadlock an mmap transfer', async () => {
    const copy = join(dir, 'self-truncated.bin');
    writeFileSync(copy, content);
    const peer = await connect();
    peer.server.pause();
    const sending = sendFile(peer.client, copy, { backend: nativeBackends.includes('mmap') ? 'mmap' : 'auto' });
    sending.catch(() => {});
    await new Promise((resolve) => setTimeout(resolve, 100));
    truncateSync(copy, 1000);
    peer.server.resume();
    await expect(sending).rejects.toMatchObject({ code: 'ERR_FILE_TRUNCATED' });
    peer.close();
  });
});

// receiveFile and relay on every build: Linux splices, the FreeBSD build
// splices sockets with SO_SPLICE (test/shims/sosplice.c, with short
// splices among the faults), the others copy on the driver thread; every
// one waits through its own waiter (kqueue, ports, /dev/poll, poll).
const relayExpected: Record<string, string> = { linux: 'splice', freebsd: 'sosplice', solaris: 'readwrite', hpux: 'readwrite', darwin: 'readwrite', fallback: 'readwrite' };
const receiveExpected: Record<string, string> = { linux: 'splice' };

/** A connected pair, both ends half-open capable, the accepted one (near) paused on connect: a relay's socket and its peer. */
async function halfOpenPair(): Promise<{ near: net.Socket; far: net.Socket }> {
  const { server, client } = await tcpPair({ allowHalfOpen: true, pauseOnConnect: true });
  return { near: server, far: client };
}

/** Everything a socket receives until its end (paused on connect, it is resumed). */
function readAll(socket: net.Socket): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.resume();
  return new Promise((resolve) => socket.once('end', () => resolve(Buffer.concat(chunks))));
}

describe(`conformance of receiveFile and relay: ${build} build${faults ? ` with faults (seed ${faults})` : ''}`, () => {
  it('says which backends they have', () => {
    expect(caps.relay.backends[0]).toBe(relayExpected[build]);
    expect(caps.receive.backends[0]).toBe(receiveExpected[build] ?? 'readwrite');
    expect(caps.relay.backends.at(-1)).toBe('stream');
  });

  it('relays both ways, byte for byte, each end passed on, however the calls are cut', async () => {
    const left = await halfOpenPair();
    const right = await halfOpenPair();
    const toRight = randomBytes(1 << 20);
    const toLeft = randomBytes(512 << 10);
    const atRight = readAll(right.near);
    const atLeft = readAll(left.far);
    const relaying = relay(left.near, right.far);
    left.far.end(toRight);
    const gotRight = await within(atRight, 20_000, 'the bytes at the right');
    expect(gotRight.equals(toRight)).toBe(true);
    right.near.end(toLeft);
    const gotLeft = await within(atLeft, 20_000, 'the bytes at the left');
    expect(gotLeft.equals(toLeft)).toBe(true);
    expect(await within(relaying, 10_000, 'the relay')).toEqual({ aToB: toRight.length, bToA: toLeft.length, backend: relayExpected[build] });
    for (const s of [left.far, right.near]) s.destroy();
  });

  // The idle timer is the JavaScript side's, over the addon's count: once
  // per mover (readwrite on the fallback build), and with the kernel's own
  // count on FreeBSD's.
  it.runIf(build === 'linux' || build === 'freebsd' || build === 'fallback')('ends with ETIMEDOUT only once nothing has moved for idleTimeout, bytes moved by the kernel counting', async () => {
    const left = await halfOpenPair();
    const right = await halfOpenPair();
    let got = 0;
    right.near.on('data', (c: Buffer) => (got += c.length));
    right.near.resume();
    const relaying = relay(left.near, right.far, { idleTimeout: 250 });
    for (let i = 0; i < 10; i++) {
      left.far.write(randomBytes(1000));
      await new Promise((resolve) => setTimeout(resolve, 60));
    }
    const error = await within(
      relaying.then(
        () => undefined,
        (e: Error & { code?: string; aToB?: number }) => e,
      ),
      5000,
      'the relay',
    );
    expect(error?.code).toBe('ETIMEDOUT');
    expect(error?.aToB).toBe(10_000);
    expect(got).toBe(10_000);
    for (const s of [left.far, right.near]) s.destroy();
  });

  it('receives a socket into a file, up to count, the rest left on the socket', async () => {
    const { near, far } = await halfOpenPair();
    const data = randomBytes(1 << 20);
    const out = join(dir, `received-${build}.bin`);
    far.end(data);
    const result = await within(receiveFile(near, out, { count: 700_000 }), 20_000, 'the receive');
    expect(result).toEqual({ bytesReceived: 700_000, backend: receiveExpected[build] ?? 'readwrite' });
    expect(readFileSync(out).equals(data.subarray(0, 700_000))).toBe(true);
    const rest = await within(readAll(near), 10_000, 'the rest on the socket');
    expect(rest.equals(data.subarray(700_000))).toBe(true);
    for (const s of [near, far]) s.destroy();
  });
});
