// Shared pieces of the benchmark: child processes, CPU accounting from
// /proc, the C helpers, files, statistics and table printing.
'use strict';

const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');

const ROOT = path.join(__dirname, '..', '..');
const CACHE = path.join(ROOT, '.bench'); // gitignored: compiled helpers, Bun, nginx's config and logs
const GB = 1e9; // GB/s and CPU s/GB are per 10^9 bytes
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** From this size on, HTTP files are loaded by bench/c/httpget.c instead of wrk (whose 8 KiB reads would measure wrk). */
const LARGE = 16 * MiB;

class UsageError extends Error {}

function parseSize(text, name = 'size') {
  const m = /^(\d+)(?:([kmg])(?:ib)?)?$/i.exec(String(text).trim());
  if (!m) throw new UsageError(`--${name}: expected bytes or a number with K, M or G (e.g. 64M, 1G), got '${text}'`);
  const scale = { '': 1, k: KiB, m: MiB, g: GiB }[(m[2] ?? '').toLowerCase()];
  const n = Number(m[1]) * scale;
  if (!Number.isSafeInteger(n) || n < 1) throw new UsageError(`--${name}: must be at least 1 byte, got '${text}'`);
  return n;
}

function formatBytes(n) {
  for (const [unit, scale] of [['GiB', GiB], ['MiB', MiB], ['KiB', KiB]]) {
    if (n >= scale && n % scale === 0) return `${n / scale} ${unit}`;
  }
  return n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : `${n} bytes`;
}

function median(values) {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = v.length >> 1;
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Runs a command to its end; resolves with its status and output. Never rejects on a non-zero exit. */
function run(command, args, { timeoutMs = 0, env, cwd } = {}) {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env, cwd });
    } catch (error) {
      resolve({ code: null, stdout: '', stderr: error.message, error });
      return;
    }
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill('SIGKILL');
        }, timeoutMs)
      : undefined;
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr || error.message, error });
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, timedOut, pid: child.pid });
    });
  });
}

/** The last line of output that parses as JSON, or undefined. */
function lastJson(text) {
  const lines = text.trim().split('\n').reverse();
  for (const line of lines) {
    try {
      return JSON.parse(line);
    } catch {}
  }
  return undefined;
}

function tail(text, lines = 3) {
  return text.trim().split('\n').slice(-lines).join(' | ').slice(0, 400);
}

/**
 * Starts a long-running child and waits for the first line it prints on
 * stdout, parsed by `parse` (JSON by default: servers print `{"port":N}`). Resolves with { child, message };
 * rejects with the child's stderr when it exits or stays silent too long.
 */
const children = new Set();
process.on('exit', () => {
  // Whatever still runs when the bench ends (an error, Ctrl-C) ends with it.
  // The C helpers also die with their parent (PR_SET_PDEATHSIG), and the
  // Node and Bun servers when their standard input closes.
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});

function startChild(command, args, { timeoutMs = 20000, env, cwd, waitForJson = true, parse = JSON.parse } = {}) {
  return new Promise((resolve, reject) => {
    // stdin is a pipe that the servers watch: when it closes, the bench is gone.
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env, cwd });
    children.add(child);
    child.once('exit', () => children.delete(child));
    let stdout = '';
    let stderr = '';
    let settled = false;
    const done = (error, message) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (error) {
        child.kill('SIGKILL');
        reject(error);
      } else resolve({ child, message, stderr: () => stderr });
    };
    const timer = setTimeout(() => done(new Error(`no answer within ${timeoutMs / 1000} s${stderr ? `: ${tail(stderr)}` : ''}`)), timeoutMs);
    child.stdout.on('data', (d) => {
      stdout += d;
      if (!waitForJson) return;
      const nl = stdout.indexOf('\n');
      if (nl === -1) return;
      try {
        done(null, parse(stdout.slice(0, nl)));
      } catch {
        done(new Error(`unexpected output: ${stdout.slice(0, nl)}`));
      }
    });
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', (error) => done(error));
    child.on('exit', (code, signal) => done(new Error(`exited (${signal ?? `code ${code}`})${stderr ? `: ${tail(stderr)}` : ''}`)));
    if (!waitForJson) setImmediate(() => done(null, undefined));
  });
}

function stopChild(child) {
  if (!child || child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

let clockTicks;
/** User + system CPU seconds of every thread of the given processes, from /proc/<pid>/stat. */
function cpuSeconds(pids) {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  let ticks = 0;
  for (const pid of pids) {
    let stat;
    try {
      stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    } catch {
      continue; // gone
    }
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' '); // fields[0] is field 3 (state)
    ticks += Number(fields[11]) + Number(fields[12]); // utime (14), stime (15)
  }
  return ticks / clockTicks;
}

/**
 * Resident memory of the given processes, in bytes, from /proc/<pid>/status:
 * `rss` now (VmRSS) and `peak` (VmHWM, the most each has held since it
 * started), summed over the processes.
 */
function residentBytes(pids) {
  let rss = 0;
  let peak = 0;
  for (const pid of pids) {
    let status;
    try {
      status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    } catch {
      continue; // gone
    }
    rss += Number(/^VmRSS:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
    peak += Number(/^VmHWM:\s+(\d+) kB/m.exec(status)?.[1] ?? 0) * 1024;
  }
  return { rss, peak };
}

/** The children of a process (nginx's workers), from /proc. */
function childPids(pid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {}
  }
  return out;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function which(name) {
  for (const dir of (process.env.PATH || '').split(':').concat(['/usr/sbin', '/usr/local/sbin', '/sbin'])) {
    const file = path.join(dir, name);
    try {
      fs.accessSync(file, fs.constants.X_OK);
      return file;
    } catch {}
  }
  return undefined;
}

/** Compiles bench/c/NAME.c into .bench/bin/NAME with the machine's cc, when the binary is missing or older. */
async function compileC(name) {
  const source = path.join(__dirname, '..', 'c', `${name}.c`);
  const binary = path.join(CACHE, 'bin', name);
  fs.mkdirSync(path.dirname(binary), { recursive: true });
  try {
    if (fs.statSync(binary).mtimeMs >= fs.statSync(source).mtimeMs) return binary;
  } catch {}
  const cc = process.env.CC || which('cc') || which('gcc') || which('clang');
  if (!cc) throw new Error('no C compiler (cc, gcc or clang) on PATH');
  const result = await run(cc, ['-O2', '-Wall', '-o', binary, source]);
  if (result.code !== 0) throw new Error(`${cc} ${name}.c failed: ${tail(result.stderr, 5)}`);
  return binary;
}

/**
 * Writes `size` bytes: one random 1 MiB block, repeated, with the block
 * number stamped into every 4 KiB page so that no two pages are alike.
 * fsync'd, so no writeback competes with the measurements; the pages stay
 * in the page cache.
 */
function generateFile(file, size) {
  const block = randomBytes(Math.min(size, MiB));
  const fd = fs.openSync(file, 'w', 0o644);
  try {
    for (let index = 0, done = 0; done < size; index++) {
      for (let page = 0; page + 8 <= block.length; page += 4096) block.writeBigUInt64LE(BigInt(index), page);
      const chunk = size - done < block.length ? block.subarray(0, size - done) : block;
      for (let off = 0; off < chunk.length; ) off += fs.writeSync(fd, chunk, off, chunk.length - off);
      done += chunk.length;
    }
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Reads a file once so that all of it is in the page cache. */
function warmPageCache(file) {
  const fd = fs.openSync(file, 'r');
  const buffer = Buffer.allocUnsafe(4 * MiB);
  try {
    while (fs.readSync(fd, buffer, 0, buffer.length, null) > 0);
  } finally {
    fs.closeSync(fd);
  }
}

function machine() {
  const cpus = os.cpus();
  let model = cpus[0]?.model.trim() ?? 'unknown CPU';
  return {
    cpu: model,
    cores: cpus.length,
    os: `${os.type()} ${os.release()}`,
    arch: os.arch(),
    memoryGiB: Math.round(os.totalmem() / GiB),
    node: process.version,
    hostname: os.hostname(),
  };
}

function printTable(columns, rows, indent = '  ') {
  const cells = rows.map((row) => columns.map((c) => String(row[c.key] ?? '')));
  const widths = columns.map((c, i) => Math.max(c.title.length, ...cells.map((r) => r[i].length)));
  const line = (values) =>
    indent +
    values
      .map((v, i) => (columns[i].align === 'right' ? v.padStart(widths[i]) : v.padEnd(widths[i])))
      .join('  ')
      .trimEnd();
  const out = [line(columns.map((c) => c.title)), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
  console.log(out.join('\n'));
}

const fixed = (x, digits) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
/** A number with about three significant digits. */
function num(x) {
  if (!Number.isFinite(x)) return '-';
  if (x >= 1000) return Math.round(x).toString();
  if (x >= 100) return x.toFixed(0);
  if (x >= 10) return x.toFixed(1);
  if (x >= 1) return x.toFixed(2);
  return x.toFixed(3);
}
const ratio = (a, b) => (Number.isFinite(a) && Number.isFinite(b) && b > 0 ? a / b : NaN);
/** Bytes as whole MiB. */
const mib = (bytes) => (Number.isFinite(bytes) ? (bytes / MiB).toFixed(0) : '-');

/** A load scenario's rows, one list per file and load (connections, and streams for HTTP/2), in order. */
function byLoad(rows) {
  const groups = new Map();
  for (const r of rows) {
    const key = `${r.size}@${r.connections}x${r.streams}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key).push(r);
  }
  return [...groups.values()];
}

module.exports = {
  ROOT,
  CACHE,
  GB,
  KiB,
  MiB,
  GiB,
  LARGE,
  UsageError,
  parseSize,
  formatBytes,
  median,
  run,
  lastJson,
  tail,
  startChild,
  stopChild,
  cpuSeconds,
  residentBytes,
  childPids,
  freePort,
  which,
  compileC,
  generateFile,
  warmPageCache,
  machine,
  printTable,
  fixed,
  num,
  ratio,
  mib,
  byLoad,
};
