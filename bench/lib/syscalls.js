// System calls per response: each HTTP server of peers.js under
// `strace -c -f -p <its pids>` while bench/c/httpcount.c asks it for a small
// file an exact number of times over keep-alive connections. The count
// divided by the responses is what a response costs in kernel crossings,
// and the top calls say which. strace slows the traced server down many
// times, so nothing is timed here; the numbers are counts.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { spawn } = require('node:child_process');
const { compileC, run, lastJson, tail } = require('./util');
const { servers, ensureApt } = require('./peers');
const { startServers, verify } = require('./http');

/** How many calls of the summary the table lists by name (the JSON has them all). */
const TOP = 8;

/** One pass of httpcount; resolves with its JSON line, rejects with why it failed. */
async function count(httpcount, port, file, connections, requests) {
  const result = await run(httpcount, [String(port), `/${file.name}`, String(file.size), String(connections), String(requests)], { timeoutMs: 300000 });
  const out = lastJson(result.stdout);
  if (!out) throw new Error(result.timedOut ? 'httpcount timed out' : `httpcount failed: ${tail(result.stderr)}`);
  if (out.error) throw new Error(`httpcount: ${out.error}`);
  return out;
}

/**
 * `strace -c` attached to every thread of `pids` (-f), counting into
 * `outFile`. Resolves with stop(), which detaches (SIGINT makes strace
 * write its summary) and resolves when the summary is written.
 */
function attach(strace, pids, outFile) {
  return new Promise((resolve, reject) => {
    const args = ['-c', '-f', '-U', 'name,calls,errors', '-S', 'calls', '-o', outFile, ...pids.flatMap((p) => ['-p', String(p)])];
    const child = spawn(strace, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    let settled = false;
    const exited = new Promise((r) => child.once('exit', r));
    const stop = async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGINT');
      await exited;
    };
    const timer = setTimeout(() => fail(new Error(`strace did not attach within 20 s: ${tail(stderr)}`)), 20000);
    const fail = (error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      child.kill('SIGKILL');
      reject(error);
    };
    // strace says "Process N attached" (with -f: "... attached with T threads") once per -p.
    child.stderr.on('data', (d) => {
      stderr += d;
      if (settled || (stderr.match(/attached/g) ?? []).length < pids.length) return;
      settled = true;
      clearTimeout(timer);
      resolve({ stop });
    });
    child.on('error', fail);
    child.on('exit', (code, signal) => fail(new Error(`strace exited (${signal ?? `code ${code}`}): ${tail(stderr)}`)));
  });
}

/** strace -c's table with -U name,calls,errors: one row per call, then `total`. */
function parseSummary(text) {
  const calls = [];
  let total;
  for (const line of text.split('\n')) {
    const m = /^\s*([a-z_0-9]+)\s+(\d+)(?:\s+(\d+))?\s*$/.exec(line);
    if (!m) continue; // the header, the dashed rules
    const row = { name: m[1], calls: Number(m[2]), errors: Number(m[3] ?? 0) };
    if (row.name === 'total') total = row;
    else calls.push(row);
  }
  return { calls, total: total ?? { calls: calls.reduce((a, c) => a + c.calls, 0), errors: calls.reduce((a, c) => a + c.errors, 0) } };
}

async function syscallBench({ root, file, requests, connections, install, zerocopyVersion, log }) {
  const strace = await ensureApt('strace', 'strace', { install });
  const version = (await run(strace, ['-V'])).stdout.match(/version (\S+)/)?.[1] ?? '?';
  const httpcount = await compileC('httpcount');
  const entries = await startServers({ list: servers({ install, zerocopyVersion }), root, log });
  const outFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'zerocopy-strace-')), 'summary.txt');
  const rows = [];
  try {
    for (const entry of entries) {
      const row = { server: entry.name, kind: entry.kind, version: entry.version, requests, connections };
      rows.push(row);
      if (entry.skipped) {
        row.skipped = entry.skipped;
        continue;
      }
      try {
        await verify(entry.running.port, file.name, file.size, file.sha256);
        // Untimed warm-up, as many requests again: JIT, caches, lazily opened things.
        await count(httpcount, entry.running.port, file, connections, requests);
        fs.rmSync(outFile, { force: true });
        const tracer = await attach(strace, entry.running.pids(), outFile);
        let done;
        try {
          done = await count(httpcount, entry.running.port, file, connections, requests);
        } finally {
          await tracer.stop();
        }
        const { calls, total } = parseSummary(fs.readFileSync(outFile, 'utf8'));
        Object.assign(row, {
          responses: done.requests,
          syscalls: total.calls,
          errors: total.errors,
          perResponse: total.calls / done.requests,
          errorsPerResponse: total.errors / done.requests,
          top: calls.slice(0, TOP).map((c) => ({ ...c, perResponse: c.calls / done.requests })),
          calls,
        });
        log(`  ${entry.name}: ${row.perResponse.toFixed(1)} system calls per response (${row.top.map((c) => `${c.name} ${c.perResponse.toFixed(2)}`).join(', ')})`);
      } catch (error) {
        row.failed = error.message;
        log(`  ${entry.name}: FAILED ${error.message}`);
      }
    }
  } finally {
    for (const entry of entries) await entry.running?.stop();
    fs.rmSync(path.dirname(outFile), { recursive: true, force: true });
  }
  const nginx = rows.find((r) => r.server === 'nginx');
  for (const row of rows) row.vsNginx = Number.isFinite(row.perResponse) && nginx?.perResponse > 0 ? row.perResponse / nginx.perResponse : NaN;
  return { strace: `strace ${version}`, file: { name: file.name, size: file.size }, requests, connections, rows };
}

module.exports = { syscallBench, parseSummary };
