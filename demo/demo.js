// `npm start`: send one file over loopback TCP with every backend this
// machine has, plus Node's own stream.pipeline as the baseline, and show
// what each costs the sending process.
//
// The receiver is a separate Node process, so the sender's CPU time
// (process.cpuUsage) covers sending only. The receiver checks every byte
// against a SHA-256 of the file.
'use strict';

const { fork } = require('node:child_process');
const { createHash, randomBytes } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');
const { pipeline } = require('node:stream/promises');
const { parseArgs } = require('node:util');

const ROLE_ENV = 'ZEROCOPY_DEMO_ROLE';
const GB = 1e9; // throughput and CPU cost are per 10^9 bytes
const MiB = 1 << 20;
const WARM_UP = 16 * MiB; // untimed first transfer per method

// How many times the CPU copies each file byte on the sending side, as
// "Zero Copy I: User-Mode Perspective" counts them (the DMA copies from
// disk and to the NIC are not counted). On loopback the receiving kernel
// still copies each byte once more into the receiver: that is the
// receiver's cost, not the sender's, and is the same for every row.
const CPU_COPIES = {
  sendfile: 0, // file pages go to the socket as page references (gather DMA; loopback supports it)
  mmap: 1, // mmap + write: page cache -> socket buffer
  readwrite: 2, // pread + write: page cache -> user buffer -> socket buffer
  stream: 2, // library's JS backend: fs.read into a Buffer, then socket write
  pipeline: 2, // baseline: fs.createReadStream chunks, then socket write
};
const copies = (name) => (Object.hasOwn(CPU_COPIES, name) ? String(CPU_COPIES[name]) : '?');

// ---------------------------------------------------------------- receiver

// Listens on loopback. For each connection it counts the bytes and, once
// the sender has ended, reports `received` at once (that stops the
// sender's clock), then hashes and reports `verified` with the SHA-256.
//
// Hashing as bytes arrive would make the receiver the bottleneck (SHA-256
// runs at about loopback speed) and flatten every row to its speed, and
// holding on to Node's chunks would fault in fresh memory on every
// transfer. So each chunk is copied into one buffer allocated and touched
// up front, and hashed after the end. Files larger than HOLD_LIMIT are
// hashed as they arrive instead, and the parent says so.
const HOLD_LIMIT = 1024 * MiB;

function receiver() {
  const port = Number(process.env.ZEROCOPY_DEMO_PORT || 0);
  const size = Number(process.env.ZEROCOPY_DEMO_SIZE);
  // Written once now so that every page is faulted in before the first
  // timed transfer (Buffer.alloc may hand out untouched zero pages).
  const store = size <= HOLD_LIMIT ? Buffer.allocUnsafeSlow(size).fill(0) : null;
  const server = net.createServer((socket) => {
    const key = socket.remotePort;
    const hash = createHash('sha256');
    let bytes = 0;
    let reported = false;
    socket.on('data', (chunk) => {
      if (!store) hash.update(chunk);
      else if (bytes + chunk.length <= store.length) chunk.copy(store, bytes);
      // else more bytes than the file holds: the byte count already says so
      bytes += chunk.length;
    });
    socket.on('end', () => {
      reported = true;
      process.send({ type: 'received', key, bytes });
      const sha256 = store
        ? createHash('sha256').update(store.subarray(0, Math.min(bytes, store.length))).digest('hex')
        : hash.digest('hex');
      process.send({ type: 'verified', key, bytes, sha256 });
      socket.end();
    });
    socket.on('error', () => {}); // reported through 'close'
    socket.on('close', () => {
      if (reported) return;
      reported = true;
      process.send({ type: 'received', key, bytes });
      process.send({ type: 'verified', key, bytes, sha256: null, error: 'connection closed before the end' });
    });
  });
  server.on('error', (error) => {
    process.send({ type: 'error', message: `receiver: ${error.message}` });
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => process.send({ type: 'listening', port: server.address().port }));
  process.on('disconnect', () => process.exit(0)); // the parent has gone
}

// ------------------------------------------------------------------ sender

const USAGE = `usage: npm start -- [--size N] [--rounds N] [--port N]
       node demo/demo.js [--size N] [--rounds N] [--port N]

Sends a file of pseudo-random bytes over loopback TCP to a receiver in a
child process, once with each zerocopy backend (sendFile(socket, path,
{ backend })) and once with stream.pipeline(fs.createReadStream(path),
socket), and verifies every byte with SHA-256.

  --size N     file size: bytes, or with K, M or G (binary: 1M = 1048576);
               default 256M
  --rounds N   transfers per method; methods alternate between rounds and
               the medians are shown; default 1
  --port N     receiver's loopback port; default 0 (any free port)
  --help       this text

Exit status: 0 all bytes matched, 1 a mismatch or failure, 2 usage error.`;

class UsageError extends Error {}
/** An expected failure: reported by its message alone. */
class DemoError extends Error {}

function parseSize(text) {
  const m = /^(\d+)(?:([kmg])(?:ib)?)?$/i.exec(text.trim());
  if (!m) throw new UsageError(`--size: expected bytes or a number with K, M or G (e.g. 64M, 1G), got '${text}'`);
  const scale = { '': 1, k: 1 << 10, m: 1 << 20, g: 1 << 30 }[(m[2] ?? '').toLowerCase()];
  const n = Number(m[1]) * scale;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--size: must be from 1 byte to 2^53 - 1, got '${text}'`);
  return n;
}

function parseInteger(name, text, min, max) {
  if (!/^\d+$/.test(text.trim()) || Number(text) < min || Number(text) > max) {
    throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got '${text}'`);
  }
  return Number(text);
}

function parseCommandLine(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        size: { type: 'string', default: '256M' },
        port: { type: 'string', default: '0' },
        rounds: { type: 'string', default: '1' },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error.message.split('\n')[0]);
  }
  if (values.help) return { help: true };
  return {
    size: parseSize(values.size),
    port: parseInteger('port', values.port, 0, 65535),
    rounds: parseInteger('rounds', values.rounds, 1, 1000),
  };
}

function formatBytes(n) {
  for (const [unit, scale] of [['GiB', 1 << 30], ['MiB', 1 << 20], ['KiB', 1 << 10]]) {
    if (n >= scale && n % scale === 0) return `${n / scale} ${unit}`;
  }
  return n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`;
}

/**
 * Writes `size` bytes: one random 1 MiB block, repeated, with the block
 * number stamped into every 4 KiB page so no two pages are alike. Returns
 * the SHA-256 of the file and of its first `prefix` bytes.
 */
function generateFile(file, size, prefix) {
  const block = randomBytes(MiB);
  const hash = createHash('sha256');
  const prefixHash = createHash('sha256');
  const fd = fs.openSync(file, 'w');
  try {
    for (let index = 0, done = 0; done < size; index++) {
      for (let page = 0; page < MiB; page += 4096) block.writeBigUInt64LE(BigInt(index), page);
      const chunk = size - done < MiB ? block.subarray(0, size - done) : block;
      hash.update(chunk);
      if (done < prefix) prefixHash.update(chunk.subarray(0, prefix - done));
      for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      done += chunk.length;
    }
    fs.fsyncSync(fd); // no writeback of this file competing with the measurements
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest('hex'), prefixSha256: prefixHash.digest('hex') };
}

function startReceiver(port, size) {
  const child = fork(__filename, [], {
    env: { ...process.env, [ROLE_ENV]: 'receiver', ZEROCOPY_DEMO_PORT: String(port), ZEROCOPY_DEMO_SIZE: String(size) },
    execArgv: [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const waiting = new Map(); // `${type}:${key}` -> resolve
  const early = new Map(); // messages that came before anyone waited for them
  let failure = null;
  const fail = (error) => {
    failure = error;
    for (const resolve of waiting.values()) resolve({ error: error.message });
    waiting.clear();
  };
  child.on('message', (message) => {
    if (message.type === 'error') return fail(new Error(message.message));
    const id = `${message.type}:${message.key ?? ''}`;
    const resolve = waiting.get(id);
    if (resolve) {
      waiting.delete(id);
      resolve(message);
    } else early.set(id, message);
  });
  child.on('exit', (code, signal) => fail(new Error(`receiver exited (${signal ?? `code ${code}`})`)));
  return {
    child,
    wait(type, key = '') {
      const id = `${type}:${key}`;
      if (early.has(id)) {
        const message = early.get(id);
        early.delete(id);
        return Promise.resolve(message);
      }
      if (failure) return Promise.resolve({ error: failure.message });
      return new Promise((resolve) => waiting.set(id, resolve));
    },
  };
}

/**
 * Sends the first `size` bytes of the file on a fresh connection. Wall
 * time runs until the receiver has the last byte; sender CPU is measured
 * over the same span.
 */
async function measure({ method, file, size, expectedHash, receiver, port, sendFile }) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  socket.on('error', () => {}); // surfaces through the transfer's own promise
  await once(socket, 'connect');
  const key = socket.localPort;
  const received = receiver.wait('received', key);
  const verified = receiver.wait('verified', key);

  let error = null;
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  try {
    if (method === 'pipeline') {
      await pipeline(fs.createReadStream(file, { end: size - 1 }), socket); // ends the socket when done
    } else {
      const result = await sendFile(socket, file, { backend: method, count: size });
      if (result.backend !== method) throw new Error(`asked for backend '${method}', got '${result.backend}'`);
      if (result.bytesSent !== size) throw new Error(`sendFile reported ${result.bytesSent} bytes, expected ${size}`);
      socket.end();
    }
  } catch (e) {
    error = e;
    socket.destroy();
  }
  const got = await received;
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const check = await verified;
  if (!socket.destroyed) await once(socket, 'close');

  const seconds = Number(t1 - t0) / 1e9;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  const problem =
    (error && error.message) ||
    check.error ||
    (check.bytes !== size ? `receiver got ${check.bytes} of ${size} bytes` : null) ||
    (check.sha256 !== expectedHash ? 'SHA-256 differs from the file' : null);
  return {
    ok: !problem,
    problem,
    gbps: got.bytes / GB / seconds,
    cpuPerGB: cpuSeconds / (size / GB),
  };
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function printTable(rows) {
  const columns = [
    { title: 'method', align: 'left' },
    { title: 'CPU copies', align: 'right' },
    { title: 'GB/s', align: 'right' },
    { title: 'vs pipeline', align: 'right' },
    { title: 'CPU s/GB', align: 'right' },
    { title: 'bytes', align: 'left' },
  ];
  const widths = columns.map((c, i) => Math.max(c.title.length, ...rows.map((r) => r[i].length)));
  const line = (cells) =>
    '  ' +
    cells
      .map((cell, i) => (columns[i].align === 'left' ? cell.padEnd(widths[i]) : cell.padStart(widths[i])))
      .join('  ')
      .trimEnd();
  console.log(line(columns.map((c) => c.title)));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
}

async function main() {
  let options;
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`demo: ${error.message} (try --help)\n`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const { size, rounds } = options;

  const { sendFile, capabilities } = require('..');
  const caps = capabilities();
  const methods = [...caps.backends, 'pipeline'];

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerocopy-demo-'));
  const file = path.join(dir, 'data.bin');
  let receiver;
  const cleanup = () => {
    receiver?.child.kill();
    fs.rmSync(dir, { recursive: true, force: true });
  };
  process.on('exit', cleanup);
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
  }

  const free = fs.statfsSync(dir);
  if (free.bavail * free.bsize < size) {
    throw new DemoError(`${os.tmpdir()} has ${formatBytes(free.bavail * free.bsize)} free, the file needs ${formatBytes(size)}`);
  }

  const cpus = os.cpus();
  console.log(
    `machine: ${cpus.length} x ${cpus[0]?.model.trim() ?? 'unknown CPU'}, ${os.platform()} ${os.release()} ${os.arch()}; ` +
      `Node ${process.version}; file ${formatBytes(size)} (${size} bytes); ${rounds} round${rounds === 1 ? '' : 's'}; ` +
      `${new Date().toISOString()}`,
  );
  if (!caps.native) console.log(`note: native addon not loaded (${caps.loadError}); only the stream backend is available`);

  const warmUpSize = Math.min(size, WARM_UP);
  const { sha256, prefixSha256 } = generateFile(file, size, warmUpSize);
  if (size > HOLD_LIMIT) {
    console.log(`note: above ${formatBytes(HOLD_LIMIT)} the receiver hashes as bytes arrive, which may cap GB/s for every row`);
  }

  receiver = startReceiver(options.port, size);
  const listening = await receiver.wait('listening');
  if (listening.error) throw new DemoError(listening.error);
  const common = { file, receiver, port: listening.port, sendFile };

  const results = new Map(methods.map((m) => [m, { runs: [], problems: [] }]));
  // Warm-up, not timed but verified: first-use costs (JIT, the addon's
  // thread, the receiver's first reads) would otherwise land on whichever
  // method happens to go first.
  for (const method of methods) {
    const run = await measure({ ...common, method, size: warmUpSize, expectedHash: prefixSha256 });
    if (!run.ok) results.get(method).problems.push(`warm-up: ${run.problem}`);
  }
  for (let round = 0; round < rounds; round++) {
    // Each round starts one method later, so no method always goes first.
    const order = methods.map((_, i) => methods[(i + round) % methods.length]);
    for (const method of order) {
      const run = await measure({ ...common, method, size, expectedHash: sha256 });
      results.get(method).runs.push(run);
      if (!run.ok) results.get(method).problems.push(run.problem);
    }
  }

  const summary = methods.map((method) => {
    const { runs, problems } = results.get(method);
    return {
      method,
      ok: problems.length === 0,
      problem: problems[0],
      gbps: median(runs.map((r) => r.gbps)),
      cpuPerGB: median(runs.map((r) => r.cpuPerGB)),
    };
  });
  const baseline = summary.find((s) => s.method === 'pipeline');
  const rows = summary.map((s) => [
    s.method === 'pipeline' ? 'pipeline (baseline)' : s.method,
    copies(s.method),
    s.gbps.toFixed(2),
    `${(s.gbps / baseline.gbps).toFixed(2)}x`,
    s.cpuPerGB.toFixed(3),
    s.ok ? 'match' : `MISMATCH: ${s.problem}`,
  ]);

  console.log();
  printTable(rows);
  console.log();
  const notes = [
    `${caps.backends.join(', ')}: sendFile(socket, path, { backend }); pipeline: stream.pipeline(fs.createReadStream(path), socket)`,
    `GB/s: 10^9 bytes per second of wall time, until the receiver has the last byte${rounds > 1 ? ` (median of ${rounds} rounds)` : ''};`,
    '  on loopback the sender often waits on the receiver, so CPU s/GB is the clearer measure of its own cost',
    `CPU s/GB: sending process user+system CPU seconds per 10^9 bytes, from process.cpuUsage()${rounds > 1 ? ' (median)' : ''}`,
    'CPU copies: CPU copies of each byte on the sending side per the article (sendfile: 0 with gather DMA;',
    '  on loopback the kernel still copies once into the receiver, for every row alike); ? = not counted',
    "bytes: the receiver's byte count and SHA-256 against the file's",
  ];
  if (rounds === 1) notes.push('one round: timings vary from run to run; --rounds 5 reports medians');
  console.log(notes.map((note) => `  ${note}`).join('\n'));

  if (summary.some((s) => !s.ok)) process.exitCode = 1;
  receiver.child.disconnect();
}

if (process.env[ROLE_ENV] === 'receiver') {
  receiver();
} else {
  main().catch((error) => {
    console.error(`demo: ${error instanceof DemoError ? error.message : (error && error.stack) || error}`);
    process.exit(1); // the 'exit' handler stops the receiver and removes the file
  });
}
