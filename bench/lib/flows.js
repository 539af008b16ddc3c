// The other two directions: the relay benchmark (relay() against
// a.pipe(b), a C splice(2) loop, HAProxy in mode tcp with splice and
// socat, each relay in a process of its own between bench/c/relay_client.c
// and the sink), the receive benchmark (receiveFile() against
// stream.pipeline(socket, fs.createWriteStream()) and a C splice loop,
// into a file on disk and on tmpfs, from bench/c/sendfile_loop.c), and what
// idle relayed connections cost the relaying process. GB/s and the
// relaying (or receiving) process's CPU seconds per GB, medians over rounds
// that alternate the methods.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { CACHE, GB, KiB, MiB, childPids, compileC, freePort, median, ratio, run, lastJson, tail, startChild, stopChild, which } = require('./util');
const { ensureApt } = require('./peers');

const SERVERS = path.join(__dirname, '..', 'servers');
/** zerocopy's Linux mover moves at most this much per splice; the C loops use the same pipes. */
const PIPE_BYTES = 256 * KiB;

const portLine = (line) => {
  const m = /^port (\d+)$/.exec(line);
  if (!m) throw new Error(line);
  return Number(m[1]);
};

/** User + system CPU seconds of a process, its threads and its children it has waited for (socat forks one per connection). */
function cpuWithChildren(pid) {
  let stat;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return NaN;
  }
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = fields.slice(11, 15).reduce((sum, x) => sum + Number(x), 0); // utime, stime, cutime, cstime
  return ticks / clockTicks();
}
/** Resolves once the process has no child left (socat's per connection), or after 5 s. */
async function reaped(pid) {
  const deadline = Date.now() + 5000;
  while (childPids(pid).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

let ticksPerSecond;
function clockTicks() {
  ticksPerSecond ??= Number(require('node:child_process').execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  return ticksPerSecond;
}

/** Resolves once something accepts connections on 127.0.0.1:port; rejects after `ms`. */
async function listening(port, ms = 20000, child) {
  const deadline = Date.now() + ms;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (child && child.exitCode !== null) throw new Error(`exited (code ${child.exitCode})`);
    if (Date.now() > deadline) throw new Error(`nothing listens on port ${port} after ${ms / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

function nodeServer(script, args, extra = []) {
  return async () => {
    const { child, message } = await startChild(process.execPath, [...extra, path.join(SERVERS, script), ...args]);
    return { port: message.port, pid: child.pid, child, stop: () => stopChild(child) };
  };
}

function haproxyConfig(port, target) {
  return `global
  nbthread 1
  # Under the machine's hard limit of descriptors (20000): HAProxy asks for
  # about two per connection and refuses to start without them.
  maxconn 4000

defaults
  mode tcp
  timeout connect 5s
  timeout client 120s
  timeout server 120s
  option splice-request
  option splice-response

frontend relay
  bind 127.0.0.1:${port}
  default_backend sink

backend sink
  server sink 127.0.0.1:${target}
`;
}

/**
 * The relays: `prepare` installs what is missing and resolves with a
 * version, or rejects with why it is skipped; `start` resolves with its
 * port, pid and stop().
 */
function relays({ target, install }) {
  return [
    { name: 'relay()', kind: 'zerocopy', prepare: async () => 'zerocopy relay(a, b)', start: nodeServer('relay.js', ['relay', String(target)]) },
    { name: 'a.pipe(b)', kind: 'baseline', prepare: async () => `Node ${process.version}`, start: nodeServer('relay.js', ['pipe', String(target)]) },
    {
      name: 'C splice loop',
      kind: 'limit',
      prepare: async () => `bench/c/splice_relay.c, ${PIPE_BYTES / KiB} KiB pipes`,
      start: async () => {
        const { child, message } = await startChild(await compileC('splice_relay'), [String(target), String(PIPE_BYTES)], { parse: portLine });
        return { port: message, pid: child.pid, child, stop: () => stopChild(child) };
      },
    },
    {
      name: 'HAProxy',
      kind: 'peer',
      prepare: async () => {
        const binary = await ensureApt('haproxy', 'haproxy', { install });
        const version = await run(binary, ['-v'], { timeoutMs: 20000 });
        return `${(version.stdout.match(/HAProxy version \S+/) ?? ['HAProxy'])[0]}, mode tcp, splice, 1 thread`;
      },
      start: async () => {
        const binary = which('haproxy');
        const port = await freePort();
        const dir = path.join(CACHE, 'haproxy');
        fs.mkdirSync(dir, { recursive: true });
        const config = path.join(dir, 'relay.cfg');
        fs.writeFileSync(config, haproxyConfig(port, target));
        const { child } = await startChild(binary, ['-db', '-f', config], { waitForJson: false });
        await listening(port, 20000, child);
        return { port, pid: child.pid, child, stop: () => stopChild(child) };
      },
    },
    {
      name: 'socat',
      kind: 'peer',
      prepare: async () => {
        const binary = await ensureApt('socat', 'socat', { install });
        const version = await run(binary, ['-V'], { timeoutMs: 20000 });
        return `${(version.stdout.match(/socat version \S+/) ?? ['socat'])[0]}, a process per connection`;
      },
      start: async () => {
        const port = await freePort();
        const { child } = await startChild(which('socat'), [`TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,backlog=1024`, `TCP:127.0.0.1:${target}`], { waitForJson: false });
        await listening(port, 20000, child);
        return { port, pid: child.pid, child, stop: () => stopChild(child) };
      },
    },
  ];
}

/** Runs `rounds` rounds of each measure through every method (rotated), and the medians. */
async function rotate({ methods, measures, rounds, log, once }) {
  const rows = [];
  for (const measure of measures) for (const method of methods) rows.push({ method: method.name, kind: method.kind, measure: measure.name, runs: [], problems: method.skipped ? [method.skipped] : [] });
  const row = (method, measure) => rows.find((r) => r.method === method.name && r.measure === measure.name);
  for (let round = 0; round < rounds; round++) {
    for (const measure of measures) {
      const live = methods.filter((m) => !m.skipped);
      const order = live.map((_, i) => live[(i + round) % live.length]);
      for (const method of order) {
        const r = row(method, measure);
        try {
          const result = await once(method, measure);
          r.runs.push(result);
          log(`  round ${round + 1} ${measure.name.padEnd(12)} ${method.name.padEnd(14)} ${result.gbps.toFixed(2).padStart(6)} GB/s  ${result.cpuPerGB.toFixed(3)} CPU s/GB`);
        } catch (error) {
          r.problems.push(error.message);
          log(`  round ${round + 1} ${measure.name} ${method.name}: FAILED ${error.message}`);
        }
      }
    }
  }
  for (const r of rows) {
    r.gbps = median(r.runs.map((x) => x.gbps));
    r.cpuPerGB = median(r.runs.map((x) => x.cpuPerGB));
    r.ok = r.runs.length > 0 && r.problems.length === 0;
  }
  return rows;
}

/** Adds the ratios to `base` methods (by name) to every row, per measure. */
function addRatios(rows, names) {
  for (const r of rows) {
    for (const [key, name] of Object.entries(names)) {
      const base = rows.find((x) => x.measure === r.measure && x.method === name);
      r[`gbpsVs${key}`] = ratio(r.gbps, base?.gbps);
      r[`cpuVs${key}`] = ratio(r.cpuPerGB, base?.cpuPerGB);
    }
  }
}

async function relayBench({ file, size, small, connections, concurrency, rounds, install, log }) {
  // A thread per connection: the relays' connections are measured at once.
  const sink = await startChild(await compileC('sink'), ['0', 'concurrent'], { parse: portLine });
  const client = await compileC('relay_client');
  const methods = relays({ target: sink.message, install });
  const servers = [];
  try {
    for (const method of methods) {
      try {
        method.version = await method.prepare();
        const server = await method.start();
        method.server = server;
        servers.push(server);
        log(`  ${method.name}: ${method.version}`);
      } catch (error) {
        method.skipped = error.message;
        log(`  ${method.name}: skipped: ${error.message}`);
      }
    }
    const measures = [
      { name: `${formatSize(size)} x 1`, size, count: 1, concurrency: 1 },
      { name: `${formatSize(small)} x ${connections}`, size: small, count: connections, concurrency },
    ];
    // Warm-up, untimed: JIT, the addon's driver, HAProxy's and socat's first connections.
    for (const method of methods.filter((m) => !m.skipped)) await run(client, [String(method.server.port), file, String(small), String(Math.min(connections, 32)), String(concurrency)], { timeoutMs: 60000 });
    const rows = await rotate({
      methods,
      measures,
      rounds,
      log,
      once: async (method, measure) => {
        const before = cpuWithChildren(method.server.pid);
        const bytes = measure.size * measure.count;
        const result = await run(client, [String(method.server.port), file, String(measure.size), String(measure.count), String(measure.concurrency)], { timeoutMs: 60000 + (bytes / 20e6) * 1000 });
        // socat's children count once it has waited for them.
        await reaped(method.server.pid);
        const cpu = cpuWithChildren(method.server.pid) - before;
        const out = lastJson(result.stdout);
        if (result.code !== 0 || !out) throw new Error(result.timedOut ? 'timed out' : `exit ${result.code ?? result.signal}: ${tail(result.stderr)}`);
        if (out.bytes !== bytes || out.wrong !== 0) throw new Error(`the sink counted ${out.bytes} of ${bytes} bytes; ${out.wrong} connections wrong`);
        return { gbps: bytes / GB / out.seconds, cpuPerGB: cpu / (bytes / GB), seconds: out.seconds, cpu };
      },
    });
    addRatios(rows, { C: 'C splice loop', Pipe: 'a.pipe(b)', HAProxy: 'HAProxy' });
    return { rows, measures: measures.map((m) => m.name), relays: methods.map((m) => ({ name: m.name, kind: m.kind, version: m.version, skipped: m.skipped })), rounds, pipeBytes: PIPE_BYTES };
  } finally {
    for (const server of servers) await server.stop();
    await stopChild(sink.child);
  }
}

async function receiveBench({ file, size, rounds, log }) {
  const sender = await compileC('sendfile_loop');
  const places = [
    { name: 'disk', dir: fs.mkdtempSync(path.join(os.tmpdir(), 'zerocopy-bench-receive-')) },
    { name: 'tmpfs', dir: fs.existsSync('/dev/shm') ? fs.mkdtempSync('/dev/shm/zerocopy-bench-receive-') : undefined },
  ];
  const rows = [];
  try {
    for (const place of places) {
      if (!place.dir) {
        log(`  ${place.name}: skipped: no /dev/shm`);
        continue;
      }
      const fsType = (() => {
        try {
          return require('node:child_process').execFileSync('stat', ['-f', '-c', '%T', place.dir], { encoding: 'utf8' }).trim();
        } catch {
          return '?';
        }
      })();
      log(`  into ${place.dir} (${fsType})`);
      const methods = [
        { name: 'receiveFile()', kind: 'zerocopy', start: nodeServer('receive.js', ['receiveFile', place.dir]) },
        { name: 'pipeline', kind: 'baseline', start: nodeServer('receive.js', ['pipeline', place.dir]) },
        {
          name: 'C splice loop',
          kind: 'limit',
          start: async () => {
            const { child, message } = await startChild(await compileC('splice_receive'), [place.dir, String(PIPE_BYTES)], { parse: portLine });
            return { port: message, pid: child.pid, child, stop: () => stopChild(child) };
          },
        },
      ];
      const servers = [];
      try {
        for (const method of methods) servers.push((method.server = await method.start()));
        const received = path.join(place.dir, 'received.bin');
        for (const method of methods) await run(sender, [String(method.server.port), file, String(16 * MiB)], { timeoutMs: 60000 });
        const placeRows = await rotate({
          methods,
          measures: [{ name: place.name }],
          rounds,
          log,
          once: async (method) => {
            // Each run writes a new file: emptying a 1 GiB one would be timed too.
            fs.rmSync(received, { force: true });
            const before = cpuWithChildren(method.server.pid);
            const result = await run(sender, [String(method.server.port), file, String(size)], { timeoutMs: 60000 + (size / 20e6) * 1000 });
            const cpu = cpuWithChildren(method.server.pid) - before;
            const out = lastJson(result.stdout);
            if (result.code !== 0 || !out) throw new Error(result.timedOut ? 'timed out' : `exit ${result.code ?? result.signal}: ${tail(result.stderr)}`);
            if (out.bytes !== size) throw new Error(`the receiver counted ${out.bytes} of ${size} bytes`);
            if (fs.statSync(received).size !== size) throw new Error(`the file holds ${fs.statSync(received).size} of ${size} bytes`);
            return { gbps: size / GB / out.seconds, cpuPerGB: cpu / (size / GB), seconds: out.seconds, cpu };
          },
        });
        for (const r of placeRows) r.fsType = fsType;
        rows.push(...placeRows);
      } finally {
        for (const server of servers) await server.stop();
      }
    }
  } finally {
    for (const place of places) if (place.dir) fs.rmSync(place.dir, { recursive: true, force: true });
  }
  addRatios(rows, { C: 'C splice loop', Pipeline: 'pipeline' });
  return { rows, size, rounds, pipeBytes: PIPE_BYTES };
}

/** The relay process's resident memory (bytes) and open descriptors, from /proc. */
function footprint(pid) {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  return { rss: Number(/^VmRSS:\s+(\d+) kB/m.exec(status)[1]) * 1024, fds: fs.readdirSync(`/proc/${pid}/fd`).length };
}

/**
 * What `count` idle relayed connections cost the relaying process: each
 * client connects through it to a server that accepts and holds the
 * connection, and nothing moves. RSS and descriptors with them open, minus
 * before, over `count`; the relay process is asked to collect garbage
 * (SIGUSR2, --expose-gc) before each look.
 */
async function idleBench({ count, log }) {
  const hold = await nodeServer('relay.js', ['hold'])();
  const rows = [];
  try {
    for (const [name, method] of [
      ['relay()', 'relay'],
      ['a.pipe(b)', 'pipe'],
    ]) {
      const server = await nodeServer('relay.js', [method, String(hold.port)], ['--expose-gc'])();
      const clients = [];
      const open = async (n) => {
        for (let i = 0; i < n; i++) {
          const socket = net.connect(server.port, '127.0.0.1');
          socket.on('error', () => {});
          clients.push(socket);
          await new Promise((resolve) => socket.once('connect', resolve));
        }
      };
      const settle = async (fds) => {
        const deadline = Date.now() + 20000;
        while (footprint(server.pid).fds < fds && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
        process.kill(server.pid, 'SIGUSR2');
        await new Promise((resolve) => setTimeout(resolve, 500));
        return footprint(server.pid);
      };
      try {
        // Warm-up: a first batch opened and closed (JIT, the driver, allocator arenas).
        await open(50);
        await settle(0);
        for (const socket of clients.splice(0)) socket.destroy();
        await new Promise((resolve) => setTimeout(resolve, 500));
        const before = await settle(0);
        await open(count);
        const after = await settle(before.fds + 2 * count);
        const row = { method: name, count, rssPerConnection: (after.rss - before.rss) / count, fdsPerConnection: (after.fds - before.fds) / count, before, after };
        rows.push(row);
        log(`  ${name}: ${count} idle: ${(row.rssPerConnection / KiB).toFixed(1)} KiB and ${row.fdsPerConnection.toFixed(2)} descriptors per connection`);
      } finally {
        for (const socket of clients) socket.destroy();
        await server.stop();
      }
    }
  } finally {
    await hold.stop();
  }
  return { count, rows };
}

function formatSize(n) {
  if (n >= MiB * 1024 && n % (MiB * 1024) === 0) return `${n / MiB / 1024} GiB`;
  if (n >= MiB && n % MiB === 0) return `${n / MiB} MiB`;
  if (n >= KiB && n % KiB === 0) return `${n / KiB} KiB`;
  return `${n} B`;
}

module.exports = { relayBench, receiveBench, idleBench };
