// `npm start`: send one file over loopback TCP with every backend this
// machine has, plus Node's own stream.pipeline as the baseline, and show
// what each costs the sending process.
//
// The receiver is a separate Node process, so the sender's CPU time
// (process.cpuUsage) covers sending only. The receiver checks every byte
// against a SHA-256 of the file.
'use strict';

const { createHash } = require('node:crypto');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { once } = require('node:events');
const readline = require('node:readline');
const { pipeline } = require('node:stream/promises');
const { parseArgs } = require('node:util');
// The benchmark's helpers: sizes, files, child processes, medians, tables.
const {
  GB, // throughput and CPU cost are per 10^9 bytes
  MiB,
  UsageError,
  fixed,
  formatBytes,
  generateFile,
  machine,
  median,
  parseSize,
  printTable,
  ratio,
  startChild,
  stopChild,
  tail,
} = require('../bench/lib/util');

const ROLE_ENV = 'ZEROCOPY_DEMO_ROLE';
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
// Reports are JSON lines on stdout, the first one `listening` (the form
// bench/lib/util.js startChild waits for); it exits when its stdin closes.
//
// Hashing as bytes arrive would make the receiver the bottleneck (SHA-256
// runs at about loopback speed) and flatten every row to its speed, and
// holding on to Node's chunks would fault in fresh memory on every
// transfer. So each chunk is copied into one buffer allocated and touched
// up front, and hashed after the end. Files larger than HOLD_LIMIT are
// hashed as they arrive instead, and the parent says so.
const HOLD_LIMIT = 1024 * MiB;

function receiver() {
  const report = (message) => process.stdout.write(`${JSON.stringify(message)}\n`);
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
      report({ type: 'received', key, bytes });
      const sha256 = store
        ? createHash('sha256').update(store.subarray(0, Math.min(bytes, store.length))).digest('hex')
        : hash.digest('hex');
      report({ type: 'verified', key, bytes, sha256 });
      socket.end();
    });
    socket.on('error', () => {}); // reported through 'close'
    socket.on('close', () => {
      if (reported) return;
      reported = true;
      report({ type: 'received', key, bytes });
      report({ type: 'verified', key, bytes, sha256: null, error: 'connection closed before the end' });
    });
  });
  server.on('error', (error) => {
    // The parent reads stderr when the receiver exits.
    process.stderr.write(`receiver: ${error.message}\n`);
    process.exit(1);
  });
  server.listen(port, '127.0.0.1', () => report({ type: 'listening', port: server.address().port }));
  process.stdin.on('end', () => process.exit(0)).resume(); // the parent has gone
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

/** An expected failure: reported by its message alone. */
class DemoError extends Error {}

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

/** The SHA-256 of the file and of its first `prefix` bytes, in one read (which also leaves it in the page cache). */
function hashFile(file, prefix) {
  const hash = createHash('sha256');
  const prefixHash = createHash('sha256');
  const buffer = Buffer.allocUnsafe(4 * MiB);
  const fd = fs.openSync(file, 'r');
  try {
    for (let done = 0, n; (n = fs.readSync(fd, buffer, 0, buffer.length, null)) > 0; done += n) {
      const chunk = buffer.subarray(0, n);
      hash.update(chunk);
      if (done < prefix) prefixHash.update(chunk.subarray(0, prefix - done));
    }
  } finally {
    fs.closeSync(fd);
  }
  return { sha256: hash.digest('hex'), prefixSha256: prefixHash.digest('hex') };
}

/**
 * Starts the receiver in a child process and waits until it listens.
 * `wait(type, key)` resolves with its report of that type for the
 * connection from local port `key`, or with `{ error }` once the receiver
 * has failed or gone.
 */
async function startReceiver(port, size) {
  let started;
  try {
    started = await startChild(process.execPath, [__filename], {
      env: { ...process.env, [ROLE_ENV]: 'receiver', ZEROCOPY_DEMO_PORT: String(port), ZEROCOPY_DEMO_SIZE: String(size) },
    });
  } catch (error) {
    throw new DemoError(`the receiver did not start: ${error.message}`);
  }
  const { child, message } = started;
  const waiting = new Map(); // `${type}:${key}` -> resolve
  const early = new Map(); // reports that came before anyone waited for them
  let failure = null;
  const fail = (error) => {
    failure = error;
    for (const resolve of waiting.values()) resolve({ error: error.message });
    waiting.clear();
  };
  readline.createInterface({ input: child.stdout }).on('line', (line) => {
    const report = JSON.parse(line);
    const id = `${report.type}:${report.key ?? ''}`;
    const resolve = waiting.get(id);
    if (resolve) {
      waiting.delete(id);
      resolve(report);
    } else early.set(id, report);
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  child.on('exit', (code, signal) => fail(new Error(`receiver exited (${signal ?? `code ${code}`})${stderr ? `: ${tail(stderr)}` : ''}`)));
  return {
    child,
    port: message.port,
    wait(type, key = '') {
      const id = `${type}:${key}`;
      if (early.has(id)) {
        const report = early.get(id);
        early.delete(id);
        return Promise.resolve(report);
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

const COLUMNS = [
  { title: 'method', key: 'method' },
  { title: 'CPU copies', key: 'copies', align: 'right' },
  { title: 'GB/s', key: 'gbps', align: 'right' },
  { title: 'vs pipeline', key: 'vsPipeline', align: 'right' },
  { title: 'CPU s/GB', key: 'cpuPerGB', align: 'right' },
  { title: 'bytes', key: 'bytes' },
];

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
  // On any exit: bench/lib/util.js stops the receiver, this removes the file.
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.on(signal, () => process.exit(128 + os.constants.signals[signal]));
  }

  const free = fs.statfsSync(dir);
  if (free.bavail * free.bsize < size) {
    throw new DemoError(`${os.tmpdir()} has ${formatBytes(free.bavail * free.bsize)} free, the file needs ${formatBytes(size)}`);
  }

  const info = machine();
  console.log(
    `machine: ${info.cores} x ${info.cpu}, ${info.os} ${info.arch}; ` +
      `Node ${process.version}; file ${formatBytes(size)} (${size} bytes); ${rounds} round${rounds === 1 ? '' : 's'}; ` +
      `${new Date().toISOString()}`,
  );
  if (!caps.native) console.log(`note: native addon not loaded (${caps.loadError}); only the stream backend is available`);

  const warmUpSize = Math.min(size, WARM_UP);
  generateFile(file, size);
  const { sha256, prefixSha256 } = hashFile(file, warmUpSize);
  if (size > HOLD_LIMIT) {
    console.log(`note: above ${formatBytes(HOLD_LIMIT)} the receiver hashes as bytes arrive, which may cap GB/s for every row`);
  }

  const receiver = await startReceiver(options.port, size);
  const common = { file, receiver, port: receiver.port, sendFile };

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
  const rows = summary.map((s) => ({
    method: s.method === 'pipeline' ? 'pipeline (baseline)' : s.method,
    copies: copies(s.method),
    gbps: fixed(s.gbps, 2),
    vsPipeline: `${fixed(ratio(s.gbps, baseline.gbps), 2)}x`,
    cpuPerGB: fixed(s.cpuPerGB, 3),
    bytes: s.ok ? 'match' : `MISMATCH: ${s.problem}`,
  }));

  console.log();
  printTable(COLUMNS, rows);
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
  await stopChild(receiver.child);
}

if (process.env[ROLE_ENV] === 'receiver') {
  receiver();
} else {
  main().catch((error) => {
    console.error(`demo: ${error instanceof DemoError ? error.message : (error && error.stack) || error}`);
    process.exit(1); // the 'exit' handler stops the receiver and removes the file
  });
}
