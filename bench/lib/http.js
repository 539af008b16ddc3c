// The HTTP benchmark: every server of peers.js in its own process, the
// load generator in another: wrk for small files, bench/c/httpget.c (one
// keep-alive connection, bodies discarded with recv(MSG_TRUNC)) for files
// of LARGE and more, where wrk's 8 KiB reads would measure wrk.
'use strict';

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { createHash } = require('node:crypto');
const { CACHE, GB, LARGE, compileC, cpuSeconds, residentBytes, median, run, lastJson, tail, ratio } = require('./util');
const { servers, ensureApt } = require('./peers');

const WRK_REPORT = `-- Written by bench/lib/http.js: wrk's summary as one JSON line.
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests":%d,"bytes":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(99)))
end
`;

/** Reads a response body whole and checks its length and, when the file's digest is known, its bytes. */
function checkBody(stream, file, what, resolve, reject) {
  const hash = createHash('sha256');
  let bytes = 0;
  stream.on('data', (chunk) => {
    bytes += chunk.length;
    hash.update(chunk);
  });
  stream.on('end', () => {
    if (bytes !== file.size) reject(new Error(`${what}: ${bytes} body bytes, the file has ${file.size}`));
    else if (file.sha256 && hash.digest('hex') !== file.sha256) reject(new Error(`${what}: the body differs from the file`));
    else resolve();
  });
  stream.on('error', reject);
}

/** GETs the file once and checks status, Content-Length and (below LARGE) every byte. */
function verify(port, name, size, sha256) {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port, path: `/${name}`, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`GET /${name} answered ${res.statusCode}`));
      }
      if (Number(res.headers['content-length']) !== size) {
        res.destroy();
        return reject(new Error(`GET /${name}: Content-Length ${res.headers['content-length']}, the file has ${size} bytes`));
      }
      if (size >= LARGE) {
        // httpget checks each large response's length as it goes.
        res.destroy();
        return resolve();
      }
      checkBody(res, { size, sha256 }, `GET /${name}`, resolve, reject);
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error(`GET /${name}: no answer in 30 s`)));
  });
}

/**
 * One measurement of one server on one file: the load generator's own
 * numbers, and the server's CPU seconds over the same span. `scheme`
 * https: wrk over TLS at every size (httpget speaks cleartext only).
 */
async function load({ server, file, duration, connections, tools, scheme = 'http' }) {
  const pids = server.pids();
  const cpu0 = cpuSeconds(pids);
  let requests, seconds, problem;
  if (scheme === 'http' && file.size >= LARGE) {
    const result = await run(tools.httpget, [String(server.port), `/${file.name}`, String(file.size), String(duration)], {
      timeoutMs: (duration + 120) * 1000,
    });
    const out = lastJson(result.stdout);
    if (!out) problem = result.timedOut ? 'httpget timed out' : `httpget failed: ${tail(result.stderr)}`;
    else {
      ({ requests, seconds } = out);
      if (out.error) problem = `httpget: ${out.error}`;
    }
  } else {
    const url = `${scheme}://127.0.0.1:${server.port}/${file.name}`;
    const result = await run(tools.wrk, ['-t1', `-c${connections}`, `-d${duration}s`, '--timeout', '10s', '-s', tools.wrkScript, url], {
      timeoutMs: (duration + 60) * 1000,
    });
    const out = lastJson(result.stdout);
    if (!out) problem = result.timedOut ? 'wrk timed out' : `wrk failed: ${tail(result.stderr || result.stdout)}`;
    else {
      requests = out.requests;
      seconds = out.duration_us / 1e6;
      const errors = ['connect', 'read', 'write', 'status', 'timeout'].filter((k) => out[k] > 0).map((k) => `${out[k]} ${k === 'status' ? 'non-2xx/3xx' : k} errors`);
      if (errors.length) problem = `wrk: ${errors.join(', ')}`;
    }
  }
  const cpu = cpuSeconds(pids) - cpu0;
  if (problem || !(requests > 0)) return { problem: problem ?? 'no request completed' };
  return rates({ requests, seconds, cpu, size: file.size });
}

/** A measurement's rates: `requests` whole responses of `size` file bytes in `seconds`, for `cpu` seconds of the server. */
function rates({ requests, seconds, cpu, size }) {
  const bytes = requests * size;
  return { rps: requests / seconds, gbps: bytes / GB / seconds, cpuPerGB: cpu / (bytes / GB), cpuUsPerRequest: (cpu / requests) * 1e6, requests, seconds, cpu };
}

/** wrk, with the Lua script that makes it print one JSON line. Resolves with { wrk, wrkScript, wrkVersion }; rejects with why not. */
async function ensureWrk({ install }) {
  const wrk = await ensureApt('wrk', 'wrk', { install });
  const wrkScript = path.join(CACHE, 'wrk-report.lua');
  fs.mkdirSync(CACHE, { recursive: true });
  fs.writeFileSync(wrkScript, WRK_REPORT);
  const version = await run(wrk, ['-v']);
  return { wrk, wrkScript, wrkVersion: (version.stdout.match(/wrk \S+/) ?? ['wrk'])[0] };
}

/**
 * Prepares and starts each server of `list`; a server that cannot be had
 * is kept as skipped, with the reason. Resolves with the entries.
 */
async function startServers({ list, root, log }) {
  const entries = [];
  for (const server of list) {
    const entry = { name: server.name, kind: server.kind, version: undefined, skipped: undefined, server, running: undefined, problems: new Map() };
    entries.push(entry);
    try {
      entry.version = await server.prepare();
      entry.running = await server.start({ root });
      log(`  ${server.name}: ${entry.version}, port ${entry.running.port}`);
    } catch (error) {
      entry.skipped = error.message;
      log(`  ${server.name}: skipped: ${error.message}`);
    }
  }
  return entries;
}

/**
 * What is measured: every file under LARGE with the first of `loads`; the
 * smallest of them also with each further load (the many-clients runs);
 * files of LARGE and more with `largeLoad`. A load is { connections } and,
 * for HTTP/2, { streams } per connection.
 */
function loadCases(files, loads, largeLoad) {
  const tag = (l) => `c${l.connections}${l.streams ? `m${l.streams}` : ''}`;
  const small = files.filter((f) => f.size < LARGE);
  const smallest = small.reduce((a, f) => (a && a.size <= f.size ? a : f), undefined);
  const cases = [];
  for (const file of files) {
    if (file.size >= LARGE) {
      cases.push({ file, ...largeLoad, primary: true, key: `${file.name}@${tag(largeLoad).slice(1)}`, label: file.label });
      continue;
    }
    loads.forEach((l, i) => {
      if (i > 0 && file !== smallest) return;
      cases.push({ file, ...l, primary: i === 0, key: `${file.name}@${tag(l).slice(1)}`, label: i === 0 ? file.label : `${file.label} ${tag(l)}` });
    });
  }
  return cases;
}

/** The HTTP scenario's cases: wrk's connection counts, httpget's one connection for large files. */
const httpCases = (files, connections) =>
  loadCases(
    files,
    connections.map((c) => ({ connections: c })),
    { connections: 1 },
  );

/**
 * The rounds every load scenario shares. Checks each server's answer once
 * per file (`check(entry, c)`, for primary cases) and warms it up with an
 * untimed second of load (JIT, caches), then runs `rounds` rounds: each
 * case in turn, its servers in an order that rotates from round to round.
 * `measure(entry, c, seconds)` makes one measurement (the numbers, or
 * { problem }); after each, the server's resident memory is added to it.
 * A server that fails on a file is left out of that file's later cases.
 * Resolves with the measurements, keyed `${server}\0${case key}`.
 */
async function measureRounds({ entries, cases, rounds, duration, serves, check, measure, log }) {
  const live = entries.filter((e) => e.running);
  const usable = (c) => live.filter((e) => serves(e, c.file) && !e.problems.has(c.file.name));
  for (const c of cases) {
    for (const entry of usable(c)) {
      try {
        if (c.primary) await check(entry, c);
        const warm = await measure(entry, c, 1);
        if (warm.problem) throw new Error(`warm-up: ${warm.problem}`);
      } catch (error) {
        entry.problems.set(c.file.name, error.message);
        log(`  ${entry.name} ${c.label}: FAILED ${error.message}`);
      }
    }
  }
  const results = new Map();
  for (let round = 0; round < rounds; round++) {
    for (const c of cases) {
      const servers = usable(c);
      const order = servers.map((_, i) => servers[(i + round) % servers.length]);
      for (const entry of order) {
        const m = await measure(entry, c, duration);
        const key = `${entry.name}\0${c.key}`;
        if (!results.has(key)) results.set(key, []);
        if (m.problem) {
          entry.problems.set(c.file.name, m.problem);
          log(`  round ${round + 1} ${c.label} ${entry.name}: FAILED ${m.problem}`);
          continue;
        }
        const { rss, peak } = residentBytes(entry.running.pids());
        Object.assign(m, { rss, peakRss: peak });
        results.get(key).push(m);
        log(
          `  round ${round + 1} ${c.label.padEnd(12)} ${entry.name.padEnd(18)} ${Math.round(m.rps).toString().padStart(7)} req/s ` +
            `${m.gbps.toFixed(2).padStart(6)} GB/s ${m.cpuPerGB.toFixed(3).padStart(7)} CPU s/GB ${m.cpuUsPerRequest.toFixed(0).padStart(5)} CPU us/req`,
        );
      }
    }
  }
  return results;
}

/** The servers' resident memory as they stop (RSS now, and the most they held), for the JSON and the memory target. */
async function stopServers(entries) {
  for (const entry of entries) {
    if (!entry.running) continue;
    const { rss, peak } = residentBytes(entry.running.pids());
    Object.assign(entry, { rssAtEnd: rss, peakRss: peak });
    await entry.running.stop();
  }
}

/**
 * One server's row for one case: why it was skipped or failed, if so, and
 * the medians of its measurements (RSS: after each measurement).
 */
function caseRow(entry, c, runs, skipped) {
  const row = {
    server: entry.name,
    kind: entry.kind,
    version: entry.version,
    size: c.file.size,
    label: c.file.label,
    connections: c.connections,
    primary: c.primary,
    runs,
  };
  if (entry.skipped) row.skipped = entry.skipped;
  else if (skipped) row.skipped = skipped;
  else if (entry.problems.has(c.file.name)) row.failed = entry.problems.get(c.file.name);
  return Object.assign(row, {
    rps: median(runs.map((r) => r.rps)),
    gbps: median(runs.map((r) => r.gbps)),
    cpuPerGB: median(runs.map((r) => r.cpuPerGB)),
    cpuUsPerRequest: median(runs.map((r) => r.cpuUsPerRequest)),
    rssBytes: median(runs.map((r) => r.rss)),
  });
}

/** The servers as the results list them. */
const serverList = (entries) =>
  entries.map((e) => ({ name: e.name, kind: e.kind, version: e.version, skipped: e.skipped, rssAtEnd: e.rssAtEnd, peakRss: e.peakRss, tls: e.tls }));

/** Whether `entry` serves `file`: a server with a maxSize does not serve larger files (they are skipped, not failed). */
const serves = (entry, file) => !(file.size >= (entry.server.maxSize ?? Infinity));

async function httpBench({ root, files, rounds, duration, connections, install, zerocopyVersion, log }) {
  const needWrk = files.some((f) => f.size < LARGE);
  const needGet = files.some((f) => f.size >= LARGE);
  let tools = {};
  let toolProblem;
  if (needWrk) {
    try {
      tools = await ensureWrk({ install });
    } catch (error) {
      toolProblem = `wrk: ${error.message}`;
      log(`  no load generator for small files: ${toolProblem}`);
    }
  }
  if (needGet) tools.httpget = await compileC('httpget');

  const cases = httpCases(files, connections);
  const runnable = (c) => !(c.file.size < LARGE && !tools.wrk);
  const entries = await startServers({ list: servers({ install, zerocopyVersion }), root, log });
  let results;
  try {
    results = await measureRounds({
      entries,
      cases: cases.filter(runnable),
      rounds,
      duration,
      serves,
      check: (entry, c) => verify(entry.running.port, c.file.name, c.file.size, c.file.sha256),
      measure: (entry, c, seconds) => load({ server: entry.running, file: c.file, duration: seconds, connections: c.connections, tools }),
      log,
    });
  } finally {
    await stopServers(entries);
  }

  const rows = [];
  for (const c of cases) {
    const skipped = (entry) => (!runnable(c) ? toolProblem : !serves(entry, c.file) ? (entry.server.maxSizeReason ?? 'does not serve this size') : undefined);
    const group = entries.map((entry) => caseRow(entry, c, results.get(`${entry.name}\0${c.key}`) ?? [], skipped(entry)));
    // Ratios within one file and one connection count: measured side by side.
    const send = group.find((r) => r.server === 'send');
    const nginx = group.find((r) => r.server === 'nginx');
    const memory = group.find((r) => r.kind === 'ceiling');
    for (const row of group) {
      row.rpsVsSend = ratio(row.rps, send?.rps);
      row.gbpsVsNginx = ratio(row.gbps, nginx?.gbps);
      // The same file in both, so this is the GB/s ratio too.
      row.rpsVsMemory = ratio(row.rps, memory?.rps);
    }
    rows.push(...group);
  }
  const [first, ...more] = connections;
  const smallest = cases.find((c) => !c.primary)?.file.label;
  return {
    rounds,
    duration,
    connections,
    loadGenerators: {
      small: !needWrk
        ? undefined
        : tools.wrk
          ? `${tools.wrkVersion} -t1 -c${first}${more.length && smallest ? ` (${smallest} also with ${more.map((c) => `-c${c}`).join(', ')})` : ''}`
          : `none (${toolProblem})`,
      large: needGet ? 'bench/c/httpget.c, 1 keep-alive connection, bodies discarded with recv(MSG_TRUNC)' : undefined,
    },
    servers: serverList(entries),
    rows,
  };
}

module.exports = { httpBench, checkBody, loadCases, ensureWrk, startServers, stopServers, measureRounds, caseRow, serverList, serves, verify, load, rates, LARGE };
