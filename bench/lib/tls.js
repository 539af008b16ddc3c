// The TLS scenarios: HTTPS (HTTP/1.1) and HTTP/2, both over TLS 1.3 with a
// self-signed P-256 certificate made for the run, each server in its own
// process on loopback. HTTPS is loaded by wrk (https URLs, one thread) at
// every size; HTTP/2 by h2load. Neither can be zero-copy from Node (its
// OpenSSL has no kTLS, and TLSWrap encrypts from memory BIOs), so the
// ceiling is Node itself answering from memory, protocol by protocol:
// node:https with res.end(buffer), node:http2 with stream.respond() and
// stream.end(buffer).
'use strict';

const fs = require('node:fs');
const http2 = require('node:http2');
const https = require('node:https');
const path = require('node:path');
const { LARGE, cpuSeconds, ratio, run, tail } = require('./util');
const { tlsServers, ensureApt } = require('./peers');
const { checkBody, ensureWrk, startServers, stopServers, measureRounds, caseRow, serverList, serves, loadCases, load, rates } = require('./http');

/** What the certificate is; the servers are held to TLS 1.3 (Bun: BoringSSL's defaults, checked at the first answer). */
const CERTIFICATE = 'self-signed ECDSA P-256 (prime256v1), SAN IP:127.0.0.1';

/**
 * Makes the run's key and certificate with openssl in `dir` (the bench's
 * temporary folder). Resolves with { key, cert, ca, description }: paths,
 * and the certificate's PEM, which the checks trust.
 */
async function makeCertificate(dir, { install }) {
  const openssl = await ensureApt('openssl', 'openssl', { install });
  const tlsDir = path.join(dir, 'tls');
  fs.mkdirSync(tlsDir, { mode: 0o755, recursive: true });
  const key = path.join(tlsDir, 'key.pem');
  const cert = path.join(tlsDir, 'cert.pem');
  const result = await run(
    openssl,
    [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '2',
      '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', key, '-out', cert,
    ],
    { timeoutMs: 60000 },
  );
  if (result.code !== 0) throw new Error(`openssl req failed: ${tail(result.stderr)}`);
  const version = (await run(openssl, ['version'])).stdout.trim();
  return { key, cert, ca: fs.readFileSync(cert), description: `${CERTIFICATE}, made by ${version}` };
}

/** The TLS session a check saw: protocol version, cipher suite, key exchange group, ALPN. */
function sessionOf(socket, alpn) {
  const key = socket.getEphemeralKeyInfo?.();
  return { protocol: socket.getProtocol(), cipher: socket.getCipher()?.standardName, group: key?.name, alpn: alpn || undefined };
}

/**
 * GETs the file once over HTTPS, trusting only the run's certificate, and
 * checks status, Content-Length and every byte; TLS 1.3 is required.
 * Resolves with the TLS session it had.
 */
function verifyHttps(port, file, tls) {
  const what = `GET https /${file.name}`;
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: `/${file.name}`, ca: tls.ca, agent: false }, (res) => {
      const session = sessionOf(res.socket);
      if (res.statusCode !== 200) {
        res.resume();
        return reject(new Error(`${what} answered ${res.statusCode}`));
      }
      if (Number(res.headers['content-length']) !== file.size) {
        res.destroy();
        return reject(new Error(`${what}: Content-Length ${res.headers['content-length']}, the file has ${file.size}`));
      }
      if (session.protocol !== 'TLSv1.3') {
        res.destroy();
        return reject(new Error(`${what}: negotiated ${session.protocol}, not TLSv1.3`));
      }
      checkBody(res, file, what, () => resolve(session), reject);
    });
    req.on('error', reject);
    req.setTimeout(30000, () => req.destroy(new Error(`${what}: no answer in 30 s`)));
  });
}

/** The same over HTTP/2 (ALPN h2, no HTTP/1.1 fallback offered). */
function verifyH2(port, file, tls) {
  const what = `GET h2 /${file.name}`;
  return new Promise((resolve, reject) => {
    const client = http2.connect(`https://127.0.0.1:${port}`, { ca: tls.ca });
    const timer = setTimeout(() => fail(new Error(`${what}: no answer in 30 s`)), 30000);
    const settle = (error, value) => {
      clearTimeout(timer);
      client.close();
      if (error) client.destroy();
      error ? reject(error) : resolve(value);
    };
    const fail = (error) => settle(error);
    client.on('error', fail);
    const req = client.request({ ':path': `/${file.name}` });
    req.on('error', fail);
    req.on('response', (headers) => {
      const session = sessionOf(client.socket, client.alpnProtocol);
      if (headers[':status'] !== 200) return fail(new Error(`${what} answered ${headers[':status']}`));
      if (Number(headers['content-length']) !== file.size) return fail(new Error(`${what}: Content-Length ${headers['content-length']}, the file has ${file.size}`));
      if (session.protocol !== 'TLSv1.3') return fail(new Error(`${what}: negotiated ${session.protocol}, not TLSv1.3`));
      checkBody(req, file, what, () => settle(null, session), fail);
    });
    req.end();
  });
}

/** h2load (Debian's nghttp2-client). Resolves with { h2load, h2loadVersion }; rejects with why not. */
async function ensureH2load({ install }) {
  const h2load = await ensureApt('nghttp2-client', 'h2load', { install });
  const version = await run(h2load, ['--version']);
  return { h2load, h2loadVersion: (version.stdout.match(/nghttp2\/\S+/) ?? ['h2load'])[0].replace('nghttp2', 'h2load') };
}

/** h2load's summary: requests done, the rate it measured, failures, status classes, and the TLS session it had. */
function parseH2load(text) {
  const finished = /^finished in ([\d.]+)s, ([\d.]+) req\/s/m.exec(text);
  const requests = /^requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/m.exec(text);
  const status = /^status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/m.exec(text);
  if (!finished || !requests || !status) return undefined;
  const field = (name) => new RegExp(`^${name}: (.+)$`, 'm').exec(text)?.[1].trim();
  const n = (m, i) => Number(m[i]);
  return {
    rps: Number(finished[2]),
    done: n(requests, 3),
    succeeded: n(requests, 4),
    failed: n(requests, 5),
    errored: n(requests, 6),
    timeout: n(requests, 7),
    status: { '2xx': n(status, 1), '3xx': n(status, 2), '4xx': n(status, 3), '5xx': n(status, 4) },
    tls: { protocol: field('TLS Protocol'), cipher: field('Cipher'), alpn: field('Application protocol') },
  };
}

/** One h2load measurement: `connections` x `streams` concurrent streams for `duration` seconds (-D), one thread. */
async function h2Load({ server, file, duration, connections, streams, tools }) {
  const pids = server.pids();
  const cpu0 = cpuSeconds(pids);
  const url = `https://127.0.0.1:${server.port}/${file.name}`;
  const result = await run(tools.h2load, ['-t1', `-c${connections}`, `-m${streams}`, '-D', String(duration), url], { timeoutMs: (duration + 60) * 1000 });
  const cpu = cpuSeconds(pids) - cpu0;
  const out = parseH2load(result.stdout);
  if (!out) return { problem: result.timedOut ? 'h2load timed out' : `h2load failed: ${tail(result.stderr || result.stdout)}` };
  const problems = [
    ...['failed', 'errored', 'timeout'].filter((k) => out[k] > 0).map((k) => `${out[k]} ${k}`),
    ...['3xx', '4xx', '5xx'].filter((k) => out.status[k] > 0).map((k) => `${out.status[k]} ${k}`),
  ];
  if (out.tls.alpn !== 'h2') problems.push(`application protocol ${out.tls.alpn ?? 'none'}, not h2`);
  if (problems.length) return { problem: `h2load: ${problems.join(', ')}` };
  if (!(out.done > 0 && out.rps > 0)) return { problem: 'no request completed' };
  // h2load's rate is requests done over its measured span; in-flight streams at the end are not counted.
  return { ...rates({ requests: out.done, seconds: out.done / out.rps, cpu, size: file.size }), tls: out.tls };
}

/**
 * One TLS scenario. `protocol`: 'https' or 'h2'. `loads`: for files under
 * LARGE, [{ connections, streams? }], the first for each file and the
 * others for the smallest only; `largeLoad` for files of LARGE and more.
 */
async function tlsBench({ protocol, root, files, rounds, duration, loads, largeLoad, tls, install, zerocopyVersion, log }) {
  let tools;
  let toolProblem;
  try {
    tools = protocol === 'h2' ? await ensureH2load({ install }) : await ensureWrk({ install });
  } catch (error) {
    toolProblem = `${protocol === 'h2' ? 'h2load' : 'wrk'}: ${error.message}`;
    log(`  no load generator: ${toolProblem}`);
  }
  const cases = loadCases(files, loads, largeLoad);
  const entries = await startServers({ list: tlsServers({ protocol, tls, install, zerocopyVersion }), root, log });
  const check = protocol === 'h2' ? verifyH2 : verifyHttps;
  const measure =
    protocol === 'h2'
      ? (entry, c, seconds) => h2Load({ server: entry.running, file: c.file, duration: seconds, connections: c.connections, streams: c.streams, tools })
      : (entry, c, seconds) => load({ server: entry.running, file: c.file, duration: seconds, connections: c.connections, tools, scheme: 'https' });
  let results = new Map();
  try {
    if (tools) {
      results = await measureRounds({
        entries,
        cases,
        rounds,
        duration,
        serves,
        check: async (entry, c) => {
          const session = await check(entry.running.port, c.file, tls);
          entry.tls ??= session;
        },
        measure,
        log,
      });
    }
  } finally {
    await stopServers(entries);
  }

  const rows = [];
  for (const c of cases) {
    const skipped = (entry) => (!tools ? toolProblem : !serves(entry, c.file) ? (entry.server.maxSizeReason ?? 'does not serve this size') : undefined);
    const group = entries.map((entry) => caseRow(entry, c, results.get(`${entry.name}\0${c.key}`) ?? [], skipped(entry)));
    // Ratios within one file and one load, measured side by side; the same file in each, so req/s and GB/s ratios are one.
    const by = (name) => group.find((r) => r.server === name);
    const memory = group.find((r) => r.kind === 'ceiling');
    for (const row of group) {
      row.streams = c.streams;
      row.rpsVsMemory = ratio(row.rps, memory?.rps);
      row.rpsVsBun = ratio(row.rps, by('Bun')?.rps);
      row.rpsVsNginx = ratio(row.rps, by('nginx')?.rps);
      row.rpsVsSend = ratio(row.rps, by('send')?.rps);
    }
    rows.push(...group);
  }
  const describe = (l) => (protocol === 'h2' ? `-c${l.connections} -m${l.streams}` : `-c${l.connections}`);
  const [first, ...more] = loads;
  const smallest = cases.find((c) => !c.primary)?.file.label;
  const generator = !tools ? `none (${toolProblem})` : protocol === 'h2' ? `${tools.h2loadVersion} -t1` : `${tools.wrkVersion} -t1`;
  return {
    protocol,
    rounds,
    duration,
    loads,
    largeLoad,
    large: LARGE,
    certificate: tls.description,
    loadGenerators: {
      small: files.some((f) => f.size < LARGE) ? `${generator} ${describe(first)}${more.length && smallest ? ` (${smallest} also with ${more.map(describe).join(', ')})` : ''}` : undefined,
      large: files.some((f) => f.size >= LARGE) ? `${generator} ${describe(largeLoad)}${protocol === 'h2' ? '' : ', bodies read through its 8 KiB buffer and discarded'}` : undefined,
    },
    servers: serverList(entries),
    rows,
  };
}

module.exports = { makeCertificate, tlsBench, parseH2load };
