// The parked-clients scenario: many slow readers hold transfers open while
// wrk measures the same server on 1 MiB responses. bench/c/parked.c opens N
// connections with a tiny receive buffer, asks each for a large file and
// never reads; the result is each server's throughput with N parked
// relative to its own with none, its memory per parked transfer (RSS with
// them minus RSS just before, over N) and its descriptors per parked
// transfer.
//
// On loopback a sender's socket buffer autotunes up to tcp_wmem's maximum
// (4 MiB by default), and a parked transfer keeps its buffer full: a few
// hundred of them exhaust net.ipv4.tcp_mem and the kernel's TCP memory
// pressure then throttles every server alike, which would measure the
// kernel. So the scenario caps that maximum at 256 KiB while it runs
// (writing /proc/sys/net/ipv4/tcp_wmem, root only), restores it after, and
// is skipped when it cannot.
'use strict';

const fs = require('node:fs');
const { execFileSync } = require('node:child_process');
const { createHash } = require('node:crypto');
const { KiB, MiB, compileC, median, ratio, residentBytes, startChild, stopChild, formatBytes } = require('./util');
const { servers, hardFileLimit } = require('./peers');
const { ensureWrk, startServers, verify, load } = require('./http');

const TCP_WMEM = '/proc/sys/net/ipv4/tcp_wmem';
/** The cap on a socket's send buffer during the scenario. */
const WMEM_CAP = 256 * KiB;
/** What the parked clients ask for SO_RCVBUF (Linux doubles it, for its bookkeeping). */
const PARKED_RCVBUF = 4096;
/** The measured responses, and the file the parked clients never finish reading. */
const MEASURED_FILE = { name: '1m.bin', size: MiB };
const PARKED_FILE = { name: 'parked-64m.bin', size: 64 * MiB };
/** Descriptors a server may need beyond its parked transfers: wrk's connections, its own files. */
const FD_MARGIN = 512;

/**
 * Caps tcp_wmem's maximum at WMEM_CAP, keeping min and default. Resolves
 * with { original, applied, restore } or throws with the reason it cannot.
 * restore() is idempotent, and also runs when the process exits (Ctrl-C:
 * run.js turns SIGINT and SIGTERM into process.exit).
 */
function capSendBuffers(log) {
  if (process.platform !== 'linux') throw new Error('Linux only (it caps net.ipv4.tcp_wmem)');
  let original;
  try {
    original = fs.readFileSync(TCP_WMEM, 'utf8').trim().split(/\s+/).join(' '); // the kernel separates with tabs
  } catch (error) {
    throw new Error(`cannot read ${TCP_WMEM}: ${error.code ?? error.message}`);
  }
  const fields = original.split(/\s+/).map(Number);
  if (fields.length !== 3 || !fields.every(Number.isSafeInteger)) throw new Error(`${TCP_WMEM} reads '${original}', not three numbers`);
  if (fields[2] <= WMEM_CAP) {
    log(`  net.ipv4.tcp_wmem is '${original}': its maximum is already at most ${formatBytes(WMEM_CAP)}, left as it is`);
    return { original, applied: original, restore: () => {} };
  }
  const applied = `${fields[0]} ${Math.min(fields[1], WMEM_CAP)} ${WMEM_CAP}`;
  const why =
    'without the cap, each parked transfer holds up to ' +
    `${formatBytes(fields[2])} of socket buffer and a few hundred put every server into TCP memory pressure alike`;
  if (process.getuid?.() !== 0) throw new Error(`writing ${TCP_WMEM} needs root (${why})`);
  try {
    fs.writeFileSync(TCP_WMEM, applied);
  } catch (error) {
    throw new Error(`cannot write ${TCP_WMEM}: ${error.code ?? error.message} (${why})`);
  }
  let restored = false;
  const restore = () => {
    if (restored) return;
    restored = true;
    process.removeListener('exit', restore);
    try {
      fs.writeFileSync(TCP_WMEM, original);
    } catch (error) {
      console.error(`bench: could not restore ${TCP_WMEM} to '${original}': ${error.message}; do it by hand`);
    }
  };
  process.on('exit', restore);
  log(`  net.ipv4.tcp_wmem set from '${original}' to '${applied}' for this scenario; restored when it ends`);
  return { original, applied, restore };
}

let pageSize;
/** Kernel TCP memory of this network namespace: bytes in use, the pressure threshold, and whether TCP is under pressure now. */
function tcpMemory() {
  pageSize ??= Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' }).trim()) || 4096;
  const out = {};
  try {
    const pages = Number(/^TCP:.*\bmem (\d+)/m.exec(fs.readFileSync('/proc/net/sockstat', 'utf8'))?.[1]);
    out.bytes = pages * pageSize;
    out.pressureFrom = Number(fs.readFileSync('/proc/sys/net/ipv4/tcp_mem', 'utf8').trim().split(/\s+/)[1]) * pageSize;
    const lines = fs.readFileSync('/proc/net/protocols', 'utf8').split('\n');
    const column = lines[0].trim().split(/\s+/).indexOf('press');
    const tcp = lines.find((l) => /^TCP\s/.test(l));
    if (column >= 0 && tcp) out.pressure = tcp.trim().split(/\s+/)[column] === 'yes';
  } catch {}
  return out;
}

/** Resident memory (bytes) and descriptors (all, and sockets) of a server's processes. */
function footprint(pids) {
  const { rss } = residentBytes(pids);
  let fds = 0;
  let sockets = 0;
  for (const pid of pids) {
    try {
      for (const fd of fs.readdirSync(`/proc/${pid}/fd`)) {
        fds++;
        try {
          if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith('socket:')) sockets++;
        } catch {} // closed meanwhile
      }
    } catch {} // gone
  }
  return { rss, fds, sockets };
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `test` until it is true or `ms` pass; resolves with whether it came true. */
async function until(test, ms) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (test()) return true;
    if (Date.now() > deadline) return false;
    await sleep(100);
  }
}

/** The parked client, running: resolves when all N transfers have begun. */
async function park(binary, port, n) {
  const { child, message } = await startChild(binary, [String(port), `/${PARKED_FILE.name}`, String(n), String(PARKED_RCVBUF)], {
    timeoutMs: 60000 + n * 100,
  });
  if (message.error) {
    await stopChild(child);
    throw new Error(`parked client: ${message.error} (${message.parked} of ${n} parked)`);
  }
  // Later lines answer `status`.
  let buffered = '';
  const waiters = [];
  child.stdout.on('data', (d) => {
    buffered += d;
    for (let nl = buffered.indexOf('\n'); nl !== -1; nl = buffered.indexOf('\n')) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      waiters.shift()?.(line);
    }
  });
  return {
    rcvbuf: message.rcvbuf,
    seconds: message.seconds,
    alive: async () => {
      const line = new Promise((resolve) => waiters.push(resolve));
      child.stdin.write('status\n');
      const answer = await Promise.race([line, sleep(10000).then(() => '{}')]);
      return JSON.parse(answer).alive;
    },
    // End of input: the client resets every connection and exits.
    stop: async () => {
      child.stdin.end();
      await Promise.race([new Promise((r) => (child.exitCode === null ? child.once('exit', r) : r())), sleep(10000)]);
      await stopChild(child);
    },
  };
}

/**
 * One measurement: N parked (none for 0), then wrk on the 1 MiB file.
 * Resolves with the load's numbers and the footprint before and with them.
 */
async function measure({ entry, n, parkedBinary, tools, duration, connections, file }) {
  const pids = entry.running.pids();
  const before = footprint(pids);
  let parked;
  const out = { n };
  try {
    if (n > 0) {
      parked = await park(parkedBinary, entry.running.port, n);
      out.parkSeconds = parked.seconds;
      out.rcvbuf = parked.rcvbuf;
      // The client saw every response begin; give the server a moment to settle its bookkeeping.
      await until(() => footprint(pids).sockets >= before.sockets + n, 10000);
      await sleep(500);
    }
    const withParked = footprint(pids);
    out.tcpMemory = tcpMemory();
    const m = await load({ server: entry.running, file, duration, connections, tools });
    if (m.problem) throw new Error(m.problem);
    Object.assign(out, m);
    out.rssBefore = before.rss;
    out.rss = withParked.rss;
    out.fdsBefore = before.fds;
    out.fds = withParked.fds;
    out.socketsBefore = before.sockets;
    out.sockets = withParked.sockets;
    if (parked) {
      out.alive = await parked.alive();
      if (!(out.alive >= n)) throw new Error(`only ${out.alive} of ${n} parked connections were still open after the measurement`);
    }
  } finally {
    await parked?.stop();
    // The server tears the transfers down; the next measurement starts from none.
    if (n > 0) await until(() => footprint(pids).sockets <= before.sockets + 2, 30000);
  }
  return out;
}

async function parkedBench({ root, counts, rounds, duration, connections, install, zerocopyVersion, log }) {
  // A server may raise its soft limit up to it (Node does so at start; nginx by worker_rlimit_nofile).
  const limit = hardFileLimit();
  const cap = capSendBuffers(log);
  try {
    const tools = await ensureWrk({ install });
    const parkedBinary = await compileC('parked');
    const file = { ...MEASURED_FILE, label: formatBytes(MEASURED_FILE.size) };
    file.sha256 = createHash('sha256').update(fs.readFileSync(`${root}/${file.name}`)).digest('hex');
    // A server holds a socket and perhaps a file per parked transfer.
    const usable = counts.filter((n) => 2 * n + FD_MARGIN <= limit);
    const tooMany = counts.filter((n) => !usable.includes(n));
    for (const n of tooMany) log(`  ${n} parked: skipped: a server may need ${2 * n + FD_MARGIN} descriptors, the hard limit is ${limit}`);
    const entries = await startServers({ list: servers({ install, zerocopyVersion }).filter((s) => s.parked), root, log });
    const live = entries.filter((e) => e.running);
    const results = new Map(); // `${server}\0${n}` -> runs
    try {
      for (const entry of live) {
        try {
          await verify(entry.running.port, file.name, file.size, file.sha256);
          const warm = await load({ server: entry.running, file, duration: 1, connections, tools });
          if (warm.problem) throw new Error(`warm-up: ${warm.problem}`);
        } catch (error) {
          entry.problems.set('all', error.message);
          log(`  ${entry.name}: FAILED ${error.message}`);
        }
      }
      for (let round = 0; round < rounds; round++) {
        const ok = live.filter((e) => !e.problems.has('all'));
        const order = ok.map((_, i) => ok[(i + round) % ok.length]);
        for (const entry of order) {
          // Fewest first; each count parks afresh, and none stay over to the next.
          for (const n of usable) {
            if (entry.problems.has(n)) continue;
            const key = `${entry.name}\0${n}`;
            if (!results.has(key)) results.set(key, []);
            try {
              const m = await measure({ entry, n, parkedBinary, tools, duration, connections, file });
              results.get(key).push(m);
              const memory = n > 0 ? ` ${((m.rss - m.rssBefore) / n / KiB).toFixed(1).padStart(6)} KiB RSS/parked` : '';
              const kernel = m.tcpMemory.bytes !== undefined ? `, kernel TCP memory ${(m.tcpMemory.bytes / MiB).toFixed(0)} MiB${m.tcpMemory.pressure ? ' (PRESSURE)' : ''}` : '';
              log(
                `  round ${round + 1} ${entry.name.padEnd(12)} ${String(n).padStart(5)} parked ${m.gbps.toFixed(2).padStart(6)} GB/s ` +
                  `${Math.round(m.rps).toString().padStart(6)} req/s${memory}${kernel}`,
              );
            } catch (error) {
              entry.problems.set(n, error.message);
              log(`  round ${round + 1} ${entry.name} ${n} parked: FAILED ${error.message}`);
            }
          }
        }
      }
    } finally {
      for (const entry of entries) await entry.running?.stop();
    }

    const rows = [];
    for (const entry of entries) {
      const base = results.get(`${entry.name}\0${usable[0]}`) ?? [];
      const baseGbps = median(base.map((m) => m.gbps));
      for (const n of counts) {
        const runs = results.get(`${entry.name}\0${n}`) ?? [];
        const row = { server: entry.name, kind: entry.kind, version: entry.version, parked: n, runs };
        if (entry.skipped) row.skipped = entry.skipped;
        else if (tooMany.includes(n)) row.skipped = `needs about ${2 * n + FD_MARGIN} descriptors, the hard limit is ${limit}`;
        else if (entry.problems.has('all')) row.failed = entry.problems.get('all');
        else if (entry.problems.has(n)) row.failed = entry.problems.get(n);
        const per = (key) => (n > 0 ? median(runs.map((m) => (m[key] - m[`${key}Before`]) / n)) : NaN);
        Object.assign(row, {
          rps: median(runs.map((m) => m.rps)),
          gbps: median(runs.map((m) => m.gbps)),
          cpuUsPerRequest: median(runs.map((m) => m.cpuUsPerRequest)),
          rssBytes: median(runs.map((m) => m.rss)),
          rssPerParked: per('rss'),
          fdsPerParked: per('fds'),
          socketsPerParked: per('sockets'),
          tcpMemoryBytes: median(runs.map((m) => m.tcpMemory.bytes)),
          tcpPressure: runs.some((m) => m.tcpMemory.pressure),
        });
        // Against the same server with none parked (the first count), measured in the same rounds.
        row.vsNone = ratio(row.gbps, baseGbps);
        rows.push(row);
      }
    }
    return {
      rounds,
      duration,
      connections,
      counts,
      baseline: usable[0],
      measured: { name: MEASURED_FILE.name, size: MEASURED_FILE.size },
      parkedFile: { name: PARKED_FILE.name, size: PARKED_FILE.size },
      parkedRcvbuf: PARKED_RCVBUF,
      tcpWmem: { original: cap.original, applied: cap.applied },
      fileLimit: limit,
      load: `${tools.wrkVersion} -t1 -c${connections}`,
      servers: entries.map((e) => ({ name: e.name, kind: e.kind, version: e.version, skipped: e.skipped })),
      rows,
    };
  } finally {
    cap.restore();
  }
}

module.exports = { parkedBench, MEASURED_FILE, PARKED_FILE, WMEM_CAP };
