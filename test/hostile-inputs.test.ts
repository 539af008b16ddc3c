// Hostile and odd inputs to sendFile: what a server may be handed that is
// not a regular file going to a connected socket, or that changes while a
// transfer runs. Each case must end promptly with an error that has a
// `code`, send nothing it should not, leave no thread blocked and no
// descriptor open.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as net from 'node:net';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, sendFile, type Backend } from '../dist/cjs/index.js';
import { expectBytes, KiB, MiB, seededBytes } from './support/bytes.js';
import { expectNoDescriptorLeak, openDescriptors } from './support/descriptors.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { PeerProcess } from './support/peer.js';
import { execFileAsync, exited, findCommand, runNode } from './support/processes.js';
import { closed, recordToEnd, startCollector, type Collector } from './support/sockets.js';
import { rejection, within } from './support/waiting.js';

const LIB = join(__dirname, '..', 'dist', 'cjs', 'index.js');
const BACKENDS = capabilities().backends;
const NATIVE = (backend: string) => backend !== 'stream';
/** How long a refusal may take: it must come from a check, never from a wait. */
const PROMPT_MS = 2000;

let dir: TempDir;
let content: Buffer;
let path: string;
let collector: Collector;

beforeAll(async () => {
  dir = makeTempDir('zerocopy-hostile-');
  content = seededBytes('hostile', 256 * KiB + 3);
  path = dir.write(content, 'content.bin');
  collector = await startCollector();
});
afterAll(async () => {
  await collector?.close();
  dir?.remove();
});

/** The fd number of a net.Socket or net.Server, read the way Node keeps it. */
const handleFd = (o: unknown) => (o as { _handle: { fd: number } })._handle.fd;

/** A bound UDP socket's fd, found through /proc: dgram.Socket's `_handle` is deprecated (DEP0112) and Node has no public way to the descriptor. */
function udpFd(udp: dgram.Socket): number {
  const port = `:${udp.address().port.toString(16).toUpperCase().padStart(4, '0')}`;
  const sockets = new Set(
    fs
      .readFileSync('/proc/net/udp', 'utf8')
      .split('\n')
      .slice(1)
      .map((line) => line.trim().split(/\s+/))
      .filter((fields) => fields[1]?.endsWith(port))
      .map((fields) => `socket:[${fields[9]}]`),
  );
  const fd = [...openDescriptors()].find(([, target]) => sockets.has(target))?.[0];
  if (fd === undefined) throw new Error(`no descriptor of this process is the UDP socket on port ${udp.address().port}`);
  return fd;
}

async function makeFifo(name: string): Promise<string> {
  const fifo = dir.file(name);
  await execFileAsync('mkfifo', [fifo]);
  return fifo;
}

/** Runs `body` with a fresh connection, then checks that the connection still carries bytes and only those. */
async function onUsableSocket(label: string, body: (socket: net.Socket) => Promise<void>): Promise<void> {
  const { socket, received } = await collector.connect();
  try {
    await body(socket);
    expect(socket.destroyed, label).toBe(false);
    socket.end('still usable');
    expect((await received).data.toString(), `${label}: what the peer received`).toBe('still usable');
  } finally {
    socket.destroy();
  }
}

describe('inputs that are not regular files', () => {
  it.each(BACKENDS)('a FIFO path is refused at once with ERR_INVALID_ARG_VALUE, even with no writer (%s)', async (backend) => {
    const fifo = await makeFifo(`fifo-${backend}`);
    const before = openDescriptors();
    await onUsableSocket(backend, async (socket) => {
      const error = await within(rejection(sendFile(socket, fifo, { backend, headers: 'H' }), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' }), PROMPT_MS, 'the FIFO refusal');
      expect(error.bytesSent ?? 0).toBe(0);
    });
    await expectNoDescriptorLeak(before);
  });

  it('sixteen FIFO sends at once leave the threadpool free: an fs call completes, and a process doing it exits', async () => {
    const fifo = await makeFifo('fifo-many');
    const out = fs.openSync('/dev/null', 'w');
    try {
      const codes = await within(
        Promise.all(Array.from({ length: 16 }, () => sendFile(out, fifo).then(() => 'resolved', (e: { code?: string }) => e.code))),
        PROMPT_MS,
        'sixteen FIFO sends',
      );
      expect(new Set(codes)).toEqual(new Set(['ERR_INVALID_ARG_VALUE']));
      expectBytes(await within(fs.promises.readFile(path), PROMPT_MS, 'fs.promises.readFile after the FIFO sends'), content);
    } finally {
      fs.closeSync(out);
    }
    // With a thread stuck in open(2), process.exit() would wait for it forever.
    const script = `
      const { sendFile } = require(${JSON.stringify(LIB)});
      const out = require('node:fs').openSync('/dev/null', 'w');
      Promise.all(Array.from({ length: 16 }, () => sendFile(out, process.argv[1]).catch((e) => e.code)))
        .then((codes) => { console.log(JSON.stringify(codes)); process.exit(0); });`;
    const result = await within(runNode(script, { UV_THREADPOOL_SIZE: '2' }, [fifo]), 15_000, 'a process that sent a FIFO sixteen times to exit');
    expect(result.code, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual(Array(16).fill('ERR_INVALID_ARG_VALUE'));
  });

  it.each(BACKENDS)('character devices are refused; pseudo-files send what their size says, or fail with a code (%s)', async (backend) => {
    await onUsableSocket(backend, async (socket) => {
      for (const device of ['/dev/null', '/dev/zero', '/dev/urandom']) {
        await within(rejection(sendFile(socket, device, { backend, headers: 'H' }), { class: TypeError, code: 'ERR_INVALID_ARG_VALUE' }), PROMPT_MS, device);
      }
      // procfs says 0 bytes: the count fixed at the call is 0, and 0 is sent.
      expect(await sendFile(socket, '/proc/self/status', { backend })).toEqual({ bytesSent: 0, backend });
    });
    // sysfs says 4096 bytes and holds fewer: the transfer ends with a code
    // once the file runs out (or, on mmap, when the mapping is refused).
    const sysfs = '/sys/kernel/mm/transparent_hugepage/enabled';
    if (!fs.existsSync(sysfs)) return;
    const devNull = fs.openSync('/dev/null', 'w');
    try {
      const error = await within(rejection(sendFile(devNull, sysfs, { backend }), {}), PROMPT_MS, sysfs);
      expect(['ERR_FILE_TRUNCATED', 'ENODEV']).toContain(error.code);
    } finally {
      fs.closeSync(devNull);
    }
  });
});

describe('outputs that cannot take a stream of bytes', () => {
  it.each(BACKENDS)('a listening socket is refused at once and keeps accepting (%s)', async (backend) => {
    const server = net.createServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const error = await within(rejection(sendFile(handleFd(server), path, { backend, headers: 'H' }), {}), PROMPT_MS, 'a send to a listening socket');
      expect(error.code).toBe(NATIVE(backend) ? 'ENOTCONN' : 'EPIPE');
      expect(error.bytesSent ?? 0).toBe(0);
      const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      expect((await recordToEnd(client)).data.length).toBe(0);
    } finally {
      server.close();
    }
  });

  it.each(BACKENDS)('a UDP socket is refused with a code, bound or connected (%s)', async (backend) => {
    const udp = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
    try {
      const unconnected = await within(rejection(sendFile(udpFd(udp), path, { backend, headers: 'H' }), {}), PROMPT_MS, 'a send to a UDP socket');
      expect(unconnected.code).toBe(NATIVE(backend) ? 'ENOTSUP' : 'EDESTADDRREQ');
      expect(unconnected.bytesSent ?? 0).toBe(0);
      if (NATIVE(backend)) {
        udp.connect(udp.address().port, '127.0.0.1');
        await once(udp, 'connect');
        await within(rejection(sendFile(udpFd(udp), path, { backend }), { code: 'ENOTSUP' }), PROMPT_MS, 'a send to a connected UDP socket');
      }
    } finally {
      udp.close();
    }
  });

  it.each(BACKENDS)('a net.Socket that never connected is refused with a code (%s)', async (backend) => {
    const socket = new net.Socket();
    const error = await within(rejection(sendFile(socket, path, { backend }), {}), PROMPT_MS, 'a send to an unconnected socket');
    expect(error.code).toBe(NATIVE(backend) ? 'ERR_INVALID_ARG_VALUE' : 'ERR_SOCKET_CLOSED');
    socket.destroy();
  });

  it.each(BACKENDS)('/dev/null takes every byte; /dev/full fails with ENOSPC having sent nothing (%s)', async (backend) => {
    const before = openDescriptors();
    const devNull = fs.openSync('/dev/null', 'w');
    const devFull = fs.openSync('/dev/full', 'w');
    try {
      expect(await sendFile(devNull, path, { backend, headers: 'H', trailers: 'T' })).toEqual({ bytesSent: content.length + 2, backend });
      const full = await within(rejection(sendFile(devFull, path, { backend, headers: 'H' }), { code: 'ENOSPC' }), PROMPT_MS, '/dev/full');
      expect(full.bytesSent).toBe(0);
    } finally {
      fs.closeSync(devNull);
      fs.closeSync(devFull);
    }
    await expectNoDescriptorLeak(before);
  });
});

describe('a file output on another file system', () => {
  // copy_file_range(2) refuses to cross file systems (EXDEV) on this kernel;
  // the Linux backend must then carry on with sendfile(2).
  const shm = '/dev/shm';
  const crosses = () => fs.existsSync(shm) && fs.statSync(shm).dev !== fs.statSync(dir.path).dev;

  it.each(BACKENDS)('a tmpfs file gets the exact bytes from a file elsewhere (%s)', async (backend) => {
    if (!crosses()) return;
    const out = join(shm, `zerocopy-test-${process.pid}-${backend}`);
    const fd = fs.openSync(out, 'w');
    try {
      const result = await sendFile(fd, path, { backend, offset: 3, headers: 'H', trailers: 'T' });
      expect(result).toEqual({ bytesSent: content.length - 3 + 2, backend });
      expectBytes(fs.readFileSync(out), Buffer.concat([Buffer.from('H'), content.subarray(3), Buffer.from('T')]), backend);
    } finally {
      fs.closeSync(fd);
      fs.rmSync(out, { force: true });
    }
  });
});

describe('half-closed connections', () => {
  it.each(BACKENDS)('after our own end(): ERR_STREAM_WRITE_AFTER_END, nothing sent (%s)', async (backend) => {
    const { socket, received } = await collector.connect();
    socket.end('bye');
    await rejection(sendFile(socket, path, { backend, headers: 'H' }), { code: 'ERR_STREAM_WRITE_AFTER_END' });
    expect((await received).data.toString()).toBe('bye');
  });

  it.each(BACKENDS)('a descriptor whose write side is shut down: EPIPE, nothing sent, no SIGPIPE (%s)', async (backend) => {
    // A peer that keeps its side open after our FIN, so that our descriptor stays open, shut down for writing.
    const server = net.createServer({ allowHalfOpen: true }, (side) => void recordToEnd(side).then((r) => server.emit('received', r)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    try {
      await once(socket, 'connect');
      const received = once(server, 'received');
      await new Promise<void>((resolve) => socket.end(resolve));
      const error = await within(rejection(sendFile(handleFd(socket), path, { backend, headers: 'H' }), { code: 'EPIPE' }), PROMPT_MS, 'a send to a shut-down socket');
      expect(error.bytesSent).toBe(0);
      const [{ data }] = (await within(received, PROMPT_MS, 'the peer to see our FIN')) as [{ data: Buffer }];
      expect(data.length).toBe(0);
    } finally {
      socket.destroy();
      server.close();
    }
  });

  it.each(BACKENDS)('a peer that half-closes at once still gets every byte (%s)', async (backend) => {
    const big = seededBytes('half-closed', 3 * MiB);
    const bigPath = dir.write(big);
    const server = net.createServer({ allowHalfOpen: true }, (side) => {
      side.end(); // the peer's FIN comes first; it goes on reading
      void recordToEnd(side).then((r) => server.emit('received', r));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const received = once(server, 'received');
      const socket = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
      socket.on('error', () => {});
      await once(socket, 'connect');
      const result = await sendFile(socket, bigPath, { backend, headers: 'H', trailers: 'T' });
      expect(result).toEqual({ bytesSent: big.length + 2, backend });
      socket.end();
      const [{ data, error }] = (await within(received, 10_000, 'the peer to see the end')) as [{ data: Buffer; error?: Error }];
      expect(error).toBeUndefined();
      expectBytes(data, Buffer.concat([Buffer.from('H'), big, Buffer.from('T')]), backend);
      await closed(socket);
    } finally {
      server.close();
    }
  });
});

describe('files that change during a transfer', () => {
  const SIZE = 8 * MiB;
  let original: Buffer;
  beforeAll(() => {
    original = seededBytes('changing', SIZE);
  });

  /** Starts a transfer of a fresh copy of `original` to a paused reader, lets `change` act on the file mid-way, then reads everything. */
  async function duringTransfer(backend: Backend, change: (file: string) => void, lease = false) {
    const paused = await startCollector({ paused: true });
    try {
      const file = dir.write(original);
      const { socket, received } = await paused.connect();
      let started!: () => void;
      const inFlight = new Promise<void>((resolve) => (started = resolve));
      const sending = sendFile(socket, file, { backend, lease, headers: 'H', trailers: 'T', onProgress: () => started() });
      sending.catch(() => {});
      await within(inFlight, 10_000, 'the first progress report');
      change(file);
      (await paused.serverSide(socket.localPort!)).resume();
      const result = await sending.then(
        (r) => ({ ok: true as const, bytesSent: r.bytesSent }),
        (e: { code?: string }) => ({ ok: false as const, code: e.code }),
      );
      socket.end();
      return { result, data: (await received).data };
    } finally {
      await paused.close();
    }
  }

  it.each(BACKENDS)('a file that grows: the count fixed at the call stands (%s)', async (backend) => {
    const { result, data } = await duringTransfer(backend, (file) => fs.appendFileSync(file, Buffer.alloc(MiB, 0x55)));
    expect(result).toEqual({ ok: true, bytesSent: SIZE + 2 });
    expectBytes(data, Buffer.concat([Buffer.from('H'), original, Buffer.from('T')]), backend);
  });

  // With lease: true the mmap backend holds a read lease where the kernel
  // grants one: a writer opening the file stops it (README, capabilities().leases).
  it.runIf(BACKENDS.includes('mmap') && capabilities().leases)('a file that grows, with lease: true: the writer opening it stops the mmap transfer', async () => {
    const { result, data } = await duringTransfer('mmap', (file) => fs.appendFileSync(file, Buffer.alloc(MiB, 0x55)), true);
    expect(result).toMatchObject({ ok: false, code: 'ERR_FILE_TRUNCATED' });
    expectBytes(data, Buffer.concat([Buffer.from('H'), original]).subarray(0, data.length), 'what arrived before the lease broke');
  });

  it.each(BACKENDS)('a file cut short after the call fixed its size, before the first byte moved: ERR_FILE_TRUNCATED, a true prefix at most (%s)', async (backend) => {
    // The size is read at the call; the transfer starts a tick later. The
    // mmap backend's write(2) from the mapping meets pages past the new end:
    // a copy into a socket that faults part-way fails whole, with EFAULT,
    // and the backend writes up to the new end instead.
    const file = dir.write(original);
    const fd = fs.openSync(file, 'r+');
    const { socket, received } = await collector.connect();
    try {
      const sending = sendFile(socket, fd, { backend, headers: 'H' });
      fs.ftruncateSync(fd, 100);
      const error = await rejection(sending, { code: 'ERR_FILE_TRUNCATED' });
      socket.end();
      const { data } = await received;
      expect(data.length).toBeLessThanOrEqual(error.bytesSent!);
      expectBytes(data, Buffer.concat([Buffer.from('H'), original]).subarray(0, data.length), backend);
    } finally {
      fs.closeSync(fd);
      socket.destroy();
    }
  });

  it.each(BACKENDS)('a file renamed over: the open file is sent, not the new one (%s)', async (backend) => {
    const { result, data } = await duringTransfer(backend, (file) => {
      const replacement = dir.write(Buffer.alloc(SIZE / 2, 0xaa));
      fs.renameSync(replacement, file);
    });
    // A rename breaks no lease: the inode we hold is unchanged.
    expect(result).toEqual({ ok: true, bytesSent: SIZE + 2 });
    expectBytes(data, Buffer.concat([Buffer.from('H'), original, Buffer.from('T')]), backend);
  });
});

// The child fills its descriptor table, then tries every kind of send, and
// again with one to four descriptors free (the addon's two duplicates, then
// its driver's pipe). It reports each outcome in order, so that the parent
// can work out exactly which bytes its peer must have received, and how many
// sockets and files it has open beyond those it started with. With `warm`,
// one native transfer runs before the table fills, so the driver exists.
const EMFILE_CHILD = `
const { sendFile, capabilities } = require(process.argv[1]);
const fs = require('node:fs');
const net = require('node:net');
const { once } = require('node:events');
const [port, path, warm] = process.argv.slice(2);
// Descriptors a transfer could leak: sockets, and the file it sends.
const held = () => fs.readdirSync('/proc/self/fd').filter((fd) => {
  try { const target = fs.readlinkSync('/proc/self/fd/' + fd); return target.startsWith('socket:') || target === path; }
  catch { return false; }
}).length;
(async () => {
  const socket = net.connect(Number(port), '127.0.0.1');
  await once(socket, 'connect');
  const localPort = socket.localPort;
  const input = fs.openSync(path, 'r');
  const calls = [];
  const attempt = async (label, source, options) => {
    const outcome = await sendFile(socket, source === 'path' ? path : input, options).then(
      (r) => ({ ok: true, bytesSent: r.bytesSent }),
      (e) => ({ ok: false, code: e.code, syscall: e.syscall, bytesSent: e.bytesSent, message: e.message }));
    calls.push({ label, headers: options.headers, count: options.count, ...outcome });
  };
  if (warm === 'warm') await attempt('warm-up', 'fd', { headers: 'warm', count: 10, backend: 'sendfile' });
  const baseline = held();
  const fillers = [];
  const fill = () => {
    try { for (;;) fillers.push(fs.openSync('/dev/null', 'r')); }
    catch (e) { if (e.code !== 'EMFILE') throw e; }
  };
  const release = (n) => { for (let i = 0; i < n && fillers.length; i++) fs.closeSync(fillers.pop()); };
  fill();
  for (const backend of capabilities().backends) {
    await attempt('full, path, ' + backend, 'path', { backend, headers: 'p' + backend });
    await attempt('full, fd, ' + backend, 'fd', { backend, headers: 'f' + backend, count: 10 });
  }
  for (const free of [1, 2, 3, 4]) {
    release(free);
    await attempt(free + ' free', 'fd', { headers: 'free' + free, count: 10, backend: 'sendfile' });
    fill();
  }
  release(fillers.length);
  await attempt('after', 'path', { headers: 'after' });
  const leaked = held() - baseline;
  socket.end();
  await once(socket, 'close');
  console.log(JSON.stringify({ calls, leaked, port: localPort }));
})().catch((e) => { console.error(e); process.exit(1); });
`;

interface EmfileReport {
  calls: { label: string; headers: string; count?: number; ok: boolean; code?: string; bytesSent?: number; message?: string }[];
  leaked: number;
  port: number;
}

describe('descriptor exhaustion', () => {
  async function runFull(warm: boolean): Promise<EmfileReport> {
    const args = ['--nofile=256:256', process.execPath, '-e', EMFILE_CHILD, LIB, String(collector.port), path, warm ? 'warm' : 'cold'];
    // Under test:sanitizers, a build without UBSan's vptr check: its probe needs a pipe(2), so with the table full it reports any object.
    const addon = process.env.ZEROCOPY_ADDON_NO_VPTR;
    const env = addon ? { ...process.env, ZEROCOPY_ADDON: addon } : process.env;
    const result = await within(exited(spawn('prlimit', args, { env, stdio: ['ignore', 'pipe', 'pipe'] })), 30_000, 'the EMFILE child');
    expect(result.code, result.stderr).toBe(0);
    const report = JSON.parse(result.stdout) as EmfileReport;
    expect(report.leaked, 'sockets and files the child held at the end beyond its baseline').toBe(0);
    const expected: Buffer[] = [];
    for (const call of report.calls) {
      if (call.ok) expected.push(Buffer.from(call.headers), content.subarray(0, call.count ?? content.length));
      else expect({ label: call.label, code: call.code, bytesSent: call.bytesSent ?? 0 }).toEqual({ label: call.label, code: 'EMFILE', bytesSent: 0 });
    }
    expectBytes((await collector.receivedFrom(report.port)).data, Buffer.concat(expected));
    return report;
  }
  const succeeded = (report: EmfileReport) => report.calls.filter((c) => c.ok).map((c) => c.label);

  it.runIf(findCommand('prlimit'))('with the table full every send fails with EMFILE and sends nothing; freed, they work; nothing leaks', async () => {
    const report = await runFull(true);
    // Opening a path needs a descriptor; the addon's two duplicates need two (the stream backend none).
    expect(succeeded(report)).toEqual(['warm-up', 'full, fd, stream', '2 free', '3 free', '4 free', 'after']);
  });

  it.runIf(findCommand('prlimit'))('the first native transfer under EMFILE: the driver that cannot start fails it with EMFILE, and closes its duplicates', async () => {
    const report = await runFull(false);
    // The driver's pipe needs two more.
    expect(succeeded(report)).toEqual(['full, fd, stream', '4 free', 'after']);
  });
});

const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { sendFile } = require(workerData.lib);
const socket = net.connect(workerData.port, '127.0.0.1');
socket.on('error', () => {});
socket.on('connect', () => {
  sendFile(socket, workerData.path, { backend: workerData.backend, headers: 'H' }).catch(() => {});
  parentPort.postMessage('sending');
});
`;

// A worker that starts small transfers as fast as they finish: terminated,
// it is most likely inside the addon, whose Node-API calls then fail.
const BUSY_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const net = require('node:net');
const { sendFile } = require(workerData.lib);
const socket = net.connect(workerData.port, '127.0.0.1');
socket.on('error', () => {});
socket.on('connect', async () => {
  parentPort.postMessage('sending');
  for (;;) {
    await Promise.all(Array.from({ length: 50 }, () => sendFile(socket, workerData.path, { count: 10, backend: workerData.backend }).catch(() => {})));
  }
});
`;

describe('worker threads terminated mid-transfer', () => {
  it('workers stopped while they start transfer after transfer: the process survives and nothing leaks', async () => {
    const sink = await startCollector();
    const before = openDescriptors();
    for (let round = 0; round < 30; round++) {
      const backend = BACKENDS[round % BACKENDS.length];
      const worker = new Worker(BUSY_WORKER, { eval: true, workerData: { lib: LIB, port: sink.port, path, backend } });
      const [message] = await within(once(worker, 'message'), 10_000, `busy worker ${round} (${backend}) to start`);
      expect(message).toBe('sending');
      await new Promise((resolve) => setTimeout(resolve, round % 7));
      await worker.terminate();
    }
    // The accepted ends are the sink's to close; nothing else may stay open.
    await sink.close();
    await expectNoDescriptorLeak(before, 5000);
  });

  it('workers terminated at random moments inside addon calls: the process survives and no descriptor is left open', async () => {
    // In a process of its own: a fatal error in the addon ends the whole process.
    dir.write('beneath', 'beneath.bin');
    const program = join(__dirname, 'support', 'terminated-workers-program.js');
    const child = spawn(process.execPath, [program, join(__dirname, '..', 'dist', 'cjs', 'native.js'), dir.path, '30'], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const result = await within(exited(child), 50_000, 'thirty workers to be started and terminated');
      expect({ code: result.code, signal: result.signal }, result.stderr).toEqual({ code: 0, signal: null });
      expect(JSON.parse(result.stdout)).toEqual({ rounds: 30, leaked: [] });
    } finally {
      child.kill('SIGKILL');
    }
  });

  it('twenty workers stopped while their transfers wait for a reader leave no descriptor open', async () => {
    const big = dir.file('worker-big.bin');
    fs.writeFileSync(big, '');
    fs.truncateSync(big, 64 * MiB);
    const peer = await PeerProcess.start({ mode: 'paused' });
    const before = openDescriptors();
    try {
      for (let round = 0; round < 20; round++) {
        const backend = BACKENDS[round % BACKENDS.length];
        const worker = new Worker(WORKER, { eval: true, workerData: { lib: LIB, port: peer.port, path: big, backend } });
        const [message] = await within(once(worker, 'message'), 10_000, `worker ${round} (${backend}) to start sending`);
        expect(message).toBe('sending');
        await peer.waitFor((e) => e.event === 'connection' && e.id === round, 5000, `the peer to accept worker ${round}`);
        await worker.terminate();
      }
      // Every stopped transfer's descriptors are closed: none is left in this process...
      await expectNoDescriptorLeak(before, 5000);
      // ...or holding a connection open: once the peer reads, it sees every one end.
      peer.setMode({ mode: 'sink' });
      await peer.waitFor(() => peer.events.filter((e) => e.event === 'close').length === 20, 10_000, 'the peer to see all twenty connections close');
    } finally {
      await peer.stop();
    }
  });
});
