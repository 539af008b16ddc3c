#!/usr/bin/env node
// `npm run bench` (and `zerocopy bench`): zerocopy against Node's streams,
// the kernel's own limit, and other file servers, on this machine.
// Never part of `npm test`: it takes minutes, installs peers on demand, and
// its numbers depend on the machine and what else runs on it.
'use strict';

const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const { createHash } = require('node:crypto');
const { parseArgs } = require('node:util');
const { ROOT, GiB, MiB, KiB, LARGE, UsageError, parseSize, formatBytes, generateFile, warmPageCache, machine, printTable, fixed, num, ratio, mib, byLoad } = require('./lib/util');

const USAGE = `usage: npm run bench -- [options]
       zerocopy bench [options]
       node bench/run.js [options]

Eight scenarios; --only picks some (default: all, in this order).

tcp: sends one file from the page cache to a C receiver that discards
with recv(MSG_TRUNC), with every sendFile() backend of this machine,
stream.pipeline(fs.createReadStream(), socket), and a C sendfile(2) loop
(the kernel's own limit), each sender in its own process. GB/s and sender
CPU seconds per GB, medians over rounds that alternate the methods.

http: serveFile, serveStatic (with its open-file cache, the default, and without),
send, @fastify/static, Bun (Bun.serve + Bun.file) and nginx (sendfile on,
tcp_nopush on), each in its own process on loopback, and node:http
answering from memory (res.end(buffer) with serveStatic's headers: the
ceiling for a Node server, files under 16 MiB only). Loaded by wrk (files
under 16 MiB) or a C client that discards bodies (larger files) in
another process. Requests/s, GB/s, server CPU seconds per GB and
microseconds per request, and ratios to the ceiling, to send and to nginx.

https: HTTP/1.1 over TLS 1.3, with a self-signed P-256 certificate made
with openssl for the run: node:https answering from memory (res.end(buffer)
with serveStatic's headers: the ceiling), serveStatic and serveFile on
node:https, send on node:https, Bun (Bun.serve { tls } + Bun.file) and
nginx (ssl, sendfile on, 1 worker), each in its own process on loopback.
Loaded by wrk -t1 over https URLs at every size: --https-connections for
files under 16 MiB, --https-large-connections for larger ones (GB/s).
Requests/s, GB/s, server CPU, server RSS, and ratios to the ceiling, Bun
and nginx.

h2: HTTP/2 over TLS 1.3 (ALPN h2, same certificate): node:http2 answering
from memory (stream.respond() + stream.end(buffer): the ceiling),
http2.createSecureServer(serveStatic(root)) (the compatibility API) and
nginx (ssl and HTTP/2, 1 worker). Loaded by h2load -t1 for --duration
seconds (-D): --h2-load for files under 16 MiB, --h2-large-load for larger
ones. The same figures, with ratios to the ceiling and to nginx.

syscalls: every http server under strace -c -f (all its threads; nginx:
master and worker) while a C client makes exactly --syscall-requests
requests for a 4 KiB file over the first --connections count of
keep-alive connections: system calls per response, the top calls, and
the ratio to nginx's.

parked: serveFile, serveStatic, send and nginx, each with N clients
parked (a C client: N connections with SO_RCVBUF 4096 set before connect,
each asking for a 64 MiB file and never reading) while wrk measures 1 MiB
responses; GB/s relative to the same server with none parked, and its
memory (RSS) and descriptors per parked transfer. Needs root: it caps
net.ipv4.tcp_wmem's maximum at 256 KiB while it runs (a parked sender's
buffer otherwise grows to 4 MiB, and a few hundred push every server into
the kernel's TCP memory pressure alike), and restores it afterwards, also
on Ctrl-C; skipped, with the reason, when it cannot. A server needs about
2 descriptors per parked client (3 for serveFile and serveStatic); counts
beyond the hard descriptor limit are skipped.

relay: relay(a, b) against a.pipe(b), a C splice(2) loop in one epoll
thread (the kernel's limit), HAProxy (mode tcp, splice, 1 thread) and
socat, each relaying in a process of its own between a C client (sendfile
from the page cache) and the C sink, which answers through the relay:
--relay-size through one connection, and --relay-small through each of
--relay-connections connections, --relay-concurrency at a time. GB/s and
the relaying process's CPU seconds per GB. Then what --idle connections,
relayed and idle, cost the relaying process in memory and descriptors
(relay() and a.pipe(b)).

receive: receiveFile(socket, path) against stream.pipeline(socket,
fs.createWriteStream(path)) and a C splice loop, --receive-size from the C
sendfile loop into a file on disk (the system's temporary folder) and on
tmpfs (/dev/shm). GB/s and the receiving process's CPU seconds per GB.

wrk, h2load (nghttp2-client), nginx, openssl, strace, HAProxy and socat
are installed with apt-get, and Bun from npm into .bench/, when missing; a
server that cannot be had is reported as skipped.

Options:
  --only L          scenarios, comma-separated: tcp, http, https, h2,
                    syscalls, parked, relay, receive; default all eight
  --rounds N        rounds, alternating the methods or servers; medians are
                    reported; default 5
  --size N          tcp file size: bytes, or with K, M or G (binary);
                    default 1G
  --http-sizes L    http file sizes, comma-separated; default 4k,16k,100k,1g
  --duration S      seconds per http, https, h2 or parked measurement;
                    default 5
  --connections L   wrk connection counts, comma-separated: the first for
                    every http file under 16 MiB (and for syscalls and
                    parked), each further one for the smallest of those
                    files only (the many-clients runs); default 32,128
  --https-sizes L   https file sizes, comma-separated; default 4k,100k,16m
  --https-connections L
                    wrk connection counts for https files under 16 MiB, as
                    --connections is for http (the first for every such
                    file, each further one for the smallest); default 16
  --https-large-connections N
                    wrk connections for https files of 16 MiB and more;
                    default 4
  --h2-sizes L      h2 file sizes, comma-separated; default 4k,100k,16m
  --h2-load L       h2load loads for h2 files under 16 MiB, each
                    CONNECTIONSxSTREAMS (h2load -c and -m), comma-separated:
                    the first for every such file, each further one for the
                    smallest; default 16x10
  --h2-large-load CxM
                    the h2load load for h2 files of 16 MiB and more;
                    default 4x1
  --syscall-requests N
                    syscalls: requests counted per server; default 2000
  --parked L        parked: client counts, comma-separated; 0 (the
                    baseline) is always measured; default 0,1000,4000
  --relay-size N    relay: bytes through one connection; default 1G
  --relay-small N   relay: bytes through each of the many; default 1M
  --relay-connections N
                    relay: how many small connections; default 1000
  --relay-concurrency N
                    relay: small connections at a time; default 16
  --idle N          relay: idle relayed connections measured; default 1000
  --receive-size N  receive: bytes into the file; default 1G
  --out DIR         where latest.json and chart.svg go; default bench/results
  --no-install      do not install missing tools and peers (they are
                    reported skipped)
  --help            this text

Quick looks:
  npm run bench -- --only http --http-sizes 4k --rounds 1 --duration 2
  npm run bench -- --only https,h2 --rounds 1 --duration 2
  npm run bench -- --only syscalls
  npm run bench -- --only parked --parked 200,1000 --rounds 1 --duration 3
  npm run bench -- --only relay,receive --rounds 3

Machine-dependent: run it on a quiet machine. Exit status: 0 ran (targets
met or not: the table says), 1 failed, 2 usage error.`;

/** What `--only` can name, in the order they run; all of them by default. */
const SCENARIOS = ['tcp', 'http', 'https', 'h2', 'syscalls', 'parked', 'relay', 'receive'];

function parseCommandLine(argv) {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        size: { type: 'string', default: '1G' },
        rounds: { type: 'string', default: '5' },
        only: { type: 'string', default: SCENARIOS.join(',') },
        'http-sizes': { type: 'string', default: '4k,16k,100k,1g' },
        duration: { type: 'string', default: '5' },
        connections: { type: 'string', default: '32,128' },
        'https-sizes': { type: 'string', default: '4k,100k,16m' },
        'https-connections': { type: 'string', default: '16' },
        'https-large-connections': { type: 'string', default: '4' },
        'h2-sizes': { type: 'string', default: '4k,100k,16m' },
        'h2-load': { type: 'string', default: '16x10' },
        'h2-large-load': { type: 'string', default: '4x1' },
        'syscall-requests': { type: 'string', default: '2000' },
        parked: { type: 'string', default: '0,1000,4000' },
        'relay-size': { type: 'string', default: '1G' },
        'relay-small': { type: 'string', default: '1M' },
        'relay-connections': { type: 'string', default: '1000' },
        'relay-concurrency': { type: 'string', default: '16' },
        idle: { type: 'string', default: '1000' },
        'receive-size': { type: 'string', default: '1G' },
        out: { type: 'string', default: path.join(__dirname, 'results') },
        'no-install': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError(error.message.split('\n')[0]);
  }
  if (values.help) return { help: true };
  const integer = (name, min, max) => {
    const text = values[name];
    if (!/^\d+$/.test(text) || Number(text) < min || Number(text) > max) throw new UsageError(`--${name}: expected an integer from ${min} to ${max}, got '${text}'`);
    return Number(text);
  };
  const only = [...new Set(values.only.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean))];
  for (const name of only) if (!SCENARIOS.includes(name)) throw new UsageError(`--only: expected some of ${SCENARIOS.join(', ')}, got '${name}'`);
  if (only.length === 0) throw new UsageError(`--only: name at least one of ${SCENARIOS.join(', ')}`);
  const items = (name) =>
    values[name]
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
  // Sizes as written (for file names) and in bytes, each size once.
  const sizes = (name) => {
    const list = items(name).map((text) => ({ text: text.toLowerCase(), size: parseSize(text, name) }));
    if (list.length === 0) throw new UsageError(`--${name}: name at least one size`);
    return [...new Map(list.map((s) => [s.size, s])).values()];
  };
  const count = (name, text) => {
    if (!/^\d+$/.test(text) || Number(text) < 1 || Number(text) > 10000) throw new UsageError(`--${name}: expected integers from 1 to 10000, got '${text}'`);
    return Number(text);
  };
  const counts = (name) => {
    const list = [...new Set(items(name).map((text) => count(name, text)))];
    if (list.length === 0) throw new UsageError(`--${name}: name at least one count`);
    return list;
  };
  // h2load's CONNECTIONSxSTREAMS.
  const h2Loads = (name) => {
    const list = items(name).map((text) => {
      const m = /^(\d+)x(\d+)$/i.exec(text);
      if (!m) throw new UsageError(`--${name}: expected CONNECTIONSxSTREAMS (e.g. 16x10), got '${text}'`);
      return { connections: count(name, m[1]), streams: count(name, m[2]) };
    });
    if (list.length === 0) throw new UsageError(`--${name}: name at least one load`);
    return [...new Map(list.map((l) => [`${l.connections}x${l.streams}`, l])).values()];
  };
  const [h2LargeLoad, ...extra] = h2Loads('h2-large-load');
  if (extra.length) throw new UsageError(`--h2-large-load: one load, got '${values['h2-large-load']}'`);
  const parked = values.parked
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
    .map((text) => {
      if (!/^\d+$/.test(text) || Number(text) > 100000) throw new UsageError(`--parked: expected integers from 0 to 100000, got '${text}'`);
      return Number(text);
    });
  // None parked is the baseline every other count is measured against.
  const parkedCounts = [...new Set([0, ...parked])].sort((a, b) => a - b);
  return {
    size: parseSize(values.size),
    rounds: integer('rounds', 1, 1000),
    only,
    httpSizes: sizes('http-sizes'),
    duration: integer('duration', 1, 3600),
    connections: counts('connections'),
    httpsSizes: sizes('https-sizes'),
    httpsConnections: counts('https-connections'),
    httpsLargeConnections: integer('https-large-connections', 1, 10000),
    h2Sizes: sizes('h2-sizes'),
    h2Loads: h2Loads('h2-load'),
    h2LargeLoad,
    syscallRequests: integer('syscall-requests', 1, 1000000),
    parked: parkedCounts,
    relaySize: parseSize(values['relay-size'], 'relay-size'),
    relaySmall: parseSize(values['relay-small'], 'relay-small'),
    relayConnections: integer('relay-connections', 1, 100000),
    relayConcurrency: integer('relay-concurrency', 1, 256),
    idle: integer('idle', 1, 5000),
    receiveSize: parseSize(values['receive-size'], 'receive-size'),
    out: path.resolve(values.out),
    install: !values['no-install'],
  };
}

const log = (line) => console.log(line);
/** The file the system-call count asks for. */
const SYSCALL_FILE = { name: '4k.bin', size: 4 * KiB };
const kindName = (r) => (r.kind === 'zerocopy' ? `sendFile ${r.method}` : r.method);
const times = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}x` : '-');
const status = (r) => (r.skipped ? `skipped: ${r.skipped}` : r.failed ? `FAILED: ${r.failed}` : 'ok');

function printTcp(tcp) {
  console.log(`\nLoopback TCP, ${formatBytes(tcp.size)} file from the page cache, ${tcp.rounds === 1 ? 'one round' : `medians of ${tcp.rounds} rounds`}:\n`);
  printTable(
    [
      { title: 'method', key: 'name' },
      { title: 'GB/s', key: 'gbps', align: 'right' },
      { title: 'CPU s/GB', key: 'cpu', align: 'right' },
      { title: '(user', key: 'user', align: 'right' },
      { title: 'sys)', key: 'sys', align: 'right' },
      { title: 'GB/s vs pipeline', key: 'vsPipe', align: 'right' },
      { title: 'GB/s vs C', key: 'vsC', align: 'right' },
      { title: 'CPU vs C', key: 'cpuVsC', align: 'right' },
      { title: 'status', key: 'status' },
    ],
    tcp.rows.map((r) => ({
      name: kindName(r),
      gbps: fixed(r.gbps, 2),
      cpu: fixed(r.cpuPerGB, 3),
      user: fixed(r.userPerGB, 3),
      sys: fixed(r.systemPerGB, 3),
      vsPipe: times(r.gbpsVsPipeline),
      vsC: times(r.gbpsVsC),
      cpuVsC: times(r.cpuVsC),
      status: r.ok ? 'ok' : `FAILED: ${r.problems[0] ?? 'no run'}`,
    })),
  );
  console.log(
    [
      '',
      '  GB/s: 10^9 bytes per wall second, from connected until the receiver has counted the last byte.',
      "  CPU s/GB: the sending process's user+system CPU seconds per 10^9 bytes (every thread; getrusage in C,",
      '  process.cpuUsage() in Node); on loopback that includes the kernel work of delivering to the receiver.',
    ].join('\n'),
  );
}

function printHttp(httpResults) {
  const { small, large } = httpResults.loadGenerators;
  const load = [small && `${small} (files under ${formatBytes(httpResults.large)})`, large && `${large} (larger files)`].filter(Boolean).join('; ');
  console.log(`\nHTTP on loopback, ${httpResults.rounds === 1 ? 'one round' : `medians of ${httpResults.rounds} rounds`} of ${httpResults.duration} s; load: ${load}:`);
  for (const rows of byLoad(httpResults.rows)) {
    const { size, connections } = rows[0];
    const small = size < httpResults.large;
    console.log(`\n  ${formatBytes(size)} file, ${small ? `${connections} connections (wrk)` : '1 connection (httpget)'}:\n`);
    printTable(
      [
        { title: 'server', key: 'server' },
        { title: 'req/s', key: 'rps', align: 'right' },
        { title: 'GB/s', key: 'gbps', align: 'right' },
        { title: 'CPU s/GB', key: 'cpu', align: 'right' },
        { title: 'CPU us/req', key: 'us', align: 'right' },
        { title: 'vs node:http memory', key: 'vsMemory', align: 'right' },
        { title: 'req/s vs send', key: 'vsSend', align: 'right' },
        { title: 'GB/s vs nginx', key: 'vsNginx', align: 'right' },
        { title: 'status', key: 'status' },
      ],
      rows.map((r) => ({
        server: r.server,
        rps: num(r.rps),
        gbps: fixed(r.gbps, 3),
        cpu: num(r.cpuPerGB),
        us: num(r.cpuUsPerRequest),
        vsMemory: times(r.rpsVsMemory),
        vsSend: times(r.rpsVsSend),
        vsNginx: times(r.gbpsVsNginx),
        status: status(r),
      })),
      '    ',
    );
  }
  console.log('\n  Servers (each one process on 127.0.0.1):');
  for (const s of httpResults.servers) console.log(`    ${s.name}: ${s.skipped ? `skipped: ${s.skipped}` : s.version}`);
  console.log(
    [
      '',
      '  GB/s: file bytes (not headers) per second. CPU s/GB and us/req: user+system CPU of the server process(es)',
      '  (/proc/<pid>/stat; nginx: master and worker) over the measurement, per 10^9 file bytes and per request.',
      '  vs node:http memory: req/s (= GB/s) against node:http answering res.end(buffer) from memory with the same',
      `  headers, the ceiling for a Node server; files under ${formatBytes(httpResults.large)} only.`,
    ].join('\n'),
  );
}

/** How each TLS scenario is named in the output, and its ceiling. */
const TLS_SCENARIOS = {
  https: { title: 'HTTPS (HTTP/1.1 over TLS 1.3)', short: 'HTTPS', ceiling: 'node:https memory', peers: ['Bun', 'nginx'] },
  h2: { title: 'HTTP/2 over TLS 1.3', short: 'HTTP/2', ceiling: 'node:http2 memory', peers: ['nginx'] },
};

function printTls(result) {
  const { title, ceiling, peers } = TLS_SCENARIOS[result.protocol];
  if (result.skipped) {
    console.log(`\n${title}: skipped: ${result.skipped}`);
    return;
  }
  const { small, large } = result.loadGenerators;
  const load = [small && `${small} (files under ${formatBytes(result.large)})`, large && `${large} (larger files)`].filter(Boolean).join('; ');
  console.log(`\n${title} on loopback, ${result.rounds === 1 ? 'one round' : `medians of ${result.rounds} rounds`} of ${result.duration} s; load: ${load}:`);
  for (const rows of byLoad(result.rows)) {
    const { size, connections, streams } = rows[0];
    const tool = result.protocol === 'h2' ? `${connections} connections x ${streams} streams (h2load)` : `${connections} connections (wrk)`;
    console.log(`\n  ${formatBytes(size)} file, ${tool}:\n`);
    printTable(
      [
        { title: 'server', key: 'server' },
        { title: 'req/s', key: 'rps', align: 'right' },
        { title: 'GB/s', key: 'gbps', align: 'right' },
        { title: 'CPU s/GB', key: 'cpu', align: 'right' },
        { title: 'CPU us/req', key: 'us', align: 'right' },
        { title: 'RSS MiB', key: 'rss', align: 'right' },
        { title: `vs ${ceiling}`, key: 'vsMemory', align: 'right' },
        ...peers.map((p) => ({ title: `vs ${p}`, key: `vs${p}`, align: 'right' })),
        { title: 'status', key: 'status' },
      ],
      rows.map((r) => ({
        server: r.server,
        rps: num(r.rps),
        gbps: fixed(r.gbps, 3),
        cpu: num(r.cpuPerGB),
        us: num(r.cpuUsPerRequest),
        rss: mib(r.rssBytes),
        vsMemory: times(r.rpsVsMemory),
        vsBun: times(r.rpsVsBun),
        vsnginx: times(r.rpsVsNginx),
        status: status(r),
      })),
      '    ',
    );
  }
  console.log(`\n  Servers (each one process on 127.0.0.1; certificate: ${result.certificate}):`);
  for (const s of result.servers) {
    if (s.skipped) {
      console.log(`    ${s.name}: skipped: ${s.skipped}`);
      continue;
    }
    const tls = s.tls ? `; ${[s.tls.protocol, s.tls.cipher, s.tls.group, s.tls.alpn].filter(Boolean).join(' ')}` : '';
    console.log(`    ${s.name}: ${s.version}${tls}; RSS at the end ${mib(s.rssAtEnd)} MiB, peak ${mib(s.peakRss)} MiB`);
  }
  console.log(
    [
      '',
      '  req/s and GB/s (file bytes per second): from the load generator. CPU s/GB and us/req: user+system CPU of the server',
      '  process(es) (/proc/<pid>/stat; nginx: master and worker) over the measurement. RSS MiB: resident memory after each',
      '  measurement (median); peak: VmHWM over the whole scenario. vs: req/s (= GB/s: the same file) against the named server in',
      `  the same rounds; ${ceiling} answers from memory with serveStatic's headers, the ceiling for a Node server.`,
      '  TLS: what the first check saw (Node client, OpenSSL default cipher order, as wrk and h2load offer).',
    ].join('\n'),
  );
}

function printSyscalls(sys, http) {
  if (sys.skipped) {
    console.log(`\nSystem calls per response: skipped: ${sys.skipped}`);
    return;
  }
  console.log(
    `\nSystem calls per response: ${sys.strace} -c -f on every thread of each server while bench/c/httpcount.c made ` +
      `${sys.requests} requests for a ${formatBytes(sys.file.size)} file over ${sys.connections} keep-alive connections (their accepts included):\n`,
  );
  // CPU per request at this size, from the HTTP run (without strace, which slows everything).
  const cpu = (server) => http?.rows.find((r) => r.server === server && r.size === sys.file.size && r.primary)?.cpuUsPerRequest;
  printTable(
    [
      { title: 'server', key: 'server' },
      { title: 'syscalls/resp', key: 'per', align: 'right' },
      { title: 'vs nginx', key: 'vsNginx', align: 'right' },
      { title: 'failed/resp', key: 'errors', align: 'right' },
      { title: 'CPU us/req', key: 'us', align: 'right' },
      { title: 'top calls per response', key: 'top' },
    ],
    sys.rows.map((r) => ({
      server: r.server,
      per: fixed(r.perResponse, 1),
      vsNginx: times(r.vsNginx),
      errors: fixed(r.errorsPerResponse, 2),
      us: num(cpu(r.server)),
      top: r.skipped || r.failed ? status(r) : r.top.map((c) => `${c.name} ${c.perResponse.toFixed(2)}`).join(', '),
    })),
  );
  console.log(
    [
      '',
      '  syscalls/resp: every system call of the server process(es) while traced, divided by the responses;',
      '  failed/resp: those that returned an error (EAGAIN included). CPU us/req: from the HTTP run at this size and',
      "  the first --connections count, when it ran (strace's own cost makes CPU time under it meaningless).",
    ].join('\n'),
  );
}

function printParked(p) {
  if (p.skipped) {
    console.log(`\nParked clients: skipped: ${p.skipped}`);
    return;
  }
  console.log(
    `\nParked clients, ${p.rounds === 1 ? 'one round' : `medians of ${p.rounds} rounds`} of ${p.duration} s: N connections (SO_RCVBUF ${p.parkedRcvbuf} ` +
      `before connect) each asked for a ${formatBytes(p.parkedFile.size)} file and never read, while ${p.load} measured ${formatBytes(p.measured.size)} responses.`,
  );
  console.log(`net.ipv4.tcp_wmem was '${p.tcpWmem.applied}' for the scenario (before and after: '${p.tcpWmem.original}'); descriptor hard limit ${p.fileLimit}.\n`);
  const kib = (bytes) => (Number.isFinite(bytes) ? (bytes / 1024).toFixed(1) : '-');
  printTable(
    [
      { title: 'server', key: 'server' },
      { title: 'parked', key: 'parked', align: 'right' },
      { title: 'GB/s', key: 'gbps', align: 'right' },
      { title: 'req/s', key: 'rps', align: 'right' },
      { title: `vs ${p.baseline} parked`, key: 'vsNone', align: 'right' },
      { title: 'KiB RSS/parked', key: 'rss', align: 'right' },
      { title: 'fds/parked', key: 'fds', align: 'right' },
      { title: 'server RSS MiB', key: 'rssTotal', align: 'right' },
      { title: 'kernel TCP MiB', key: 'tcp', align: 'right' },
      { title: 'status', key: 'status' },
    ],
    p.rows.map((r) => ({
      server: r.server,
      parked: r.parked,
      gbps: fixed(r.gbps, 3),
      rps: num(r.rps),
      vsNone: times(r.vsNone),
      rss: kib(r.rssPerParked),
      fds: fixed(r.fdsPerParked, 2),
      rssTotal: mib(r.rssBytes),
      tcp: `${mib(r.tcpMemoryBytes)}${r.tcpPressure ? ' PRESSURE' : ''}`,
      status: status(r),
    })),
  );
  console.log(
    [
      '',
      `  vs ${p.baseline} parked: GB/s against the same server with ${p.baseline} parked, in the same rounds. KiB RSS/parked: the`,
      "  server's resident memory with N parked minus just before they connected, over N (nginx: master and worker);",
      "  fds/parked the same for open descriptors. kernel TCP MiB: /proc/net/sockstat's TCP memory (every socket of",
      '  this network namespace, both ends) while parked; PRESSURE: the kernel reported TCP memory pressure.',
    ].join('\n'),
  );
}

function printFlows(title, result, ratios, note) {
  console.log(`\n${title}, ${result.rounds === 1 ? 'one round' : `medians of ${result.rounds} rounds`}:`);
  for (const measure of [...new Set(result.rows.map((r) => r.measure))]) {
    console.log(`\n  ${measure}:\n`);
    printTable(
      [
        { title: 'method', key: 'method' },
        { title: 'GB/s', key: 'gbps', align: 'right' },
        { title: 'CPU s/GB', key: 'cpu', align: 'right' },
        ...ratios.flatMap(([key, label]) => [
          { title: `GB/s vs ${label}`, key: `g${key}`, align: 'right' },
          { title: `CPU vs ${label}`, key: `c${key}`, align: 'right' },
        ]),
        { title: 'status', key: 'status' },
      ],
      result.rows
        .filter((r) => r.measure === measure)
        .map((r) => ({
          method: r.method,
          gbps: fixed(r.gbps, 2),
          cpu: fixed(r.cpuPerGB, 3),
          ...Object.fromEntries(ratios.flatMap(([key]) => [[`g${key}`, times(r[`gbpsVs${key}`])], [`c${key}`, times(r[`cpuVs${key}`])]])),
          status: r.ok ? 'ok' : `FAILED: ${r.problems[0] ?? 'no run'}`,
        })),
      '    ',
    );
  }
  console.log(note);
}

function printRelay(r) {
  if (r.skipped) {
    console.log(`\nRelay: skipped: ${r.skipped}`);
    return;
  }
  printFlows(
    `Relay over loopback (pipes of ${r.pipeBytes / 1024} KiB)`,
    r,
    [
      ['C', 'C'],
      ['HAProxy', 'HAProxy'],
      ['Pipe', 'pipe'],
    ],
    [
      '',
      '  GB/s: 10^9 bytes relayed per wall second, from the first connect until the last answer came back through the relay.',
      "  CPU s/GB: the relaying process's user+system CPU seconds per 10^9 bytes (/proc/<pid>/stat; socat: with the children it",
      '  forks per connection); on loopback that includes the kernel work of delivering to the sink.',
      ...r.relays.map((x) => `  ${x.name}: ${x.skipped ? `skipped: ${x.skipped}` : x.version}`),
    ].join('\n'),
  );
  if (r.idle) {
    console.log(`\n  ${r.idle.count} idle relayed connections (each relayed to a server that holds it), per connection in the relaying process:\n`);
    printTable(
      [
        { title: 'method', key: 'method' },
        { title: 'KiB RSS', key: 'rss', align: 'right' },
        { title: 'descriptors', key: 'fds', align: 'right' },
      ],
      r.idle.rows.map((x) => ({ method: x.method, rss: fixed(x.rssPerConnection / 1024, 1), fds: fixed(x.fdsPerConnection, 2) })),
      '    ',
    );
  }
}

function printReceive(r) {
  printFlows(
    `Receive ${formatBytes(r.size)} from loopback into a file (pipes of ${r.pipeBytes / 1024} KiB)`,
    r,
    [
      ['C', 'C'],
      ['Pipeline', 'pipeline'],
    ],
    [
      '',
      '  GB/s: 10^9 bytes per wall second at the sender, from connected until the receiver answered with its count (the file written).',
      "  CPU s/GB: the receiving process's user+system CPU seconds per 10^9 bytes. disk: the system's temporary folder; tmpfs: /dev/shm.",
    ].join('\n'),
  );
}

/** The issue's targets, as measured in this run. */
function targets(results) {
  const out = [];
  const add = (target, value, goal, pass, note, unit = 'x') =>
    out.push({ target, measured: Number.isFinite(value) ? value : null, unit, goal, met: Number.isFinite(value) ? pass(value) : null, note });
  const tcp = results.tcp;
  if (tcp) {
    const first = tcp.rows.find((r) => r.kind === 'zerocopy');
    add(`sendFile (${first.method}) over loopback: GB/s vs the C loop`, first.gbpsVsC, '>= 0.90x', (v) => v >= 0.9);
    add(`sendFile (${first.method}) over loopback: CPU s/GB vs the C loop`, first.cpuVsC, '<= 1.10x', (v) => v <= 1.1);
  }
  const http = results.http;
  // The targets are about the first --connections count.
  const row = (server, size) => http?.rows.find((r) => r.server === server && r.size === size && r.primary);
  const why = (size, ...peers) => {
    if (!http) return 'HTTP not run';
    const r = row('serveFile', size) ?? row('serveStatic', size);
    if (!r) return `${formatBytes(size)} not in --http-sizes`;
    for (const p of peers) {
      const pr = row(p, size);
      if (pr?.skipped) return `${p} skipped: ${pr.skipped}`;
      if (pr?.failed) return `${p} failed: ${pr.failed}`;
    }
    return undefined;
  };
  add('serveFile at 1 GiB: GB/s vs nginx', row('serveFile', GiB)?.gbpsVsNginx, '>= 0.85x', (v) => v >= 0.85, why(GiB, 'serveFile', 'nginx'));
  const bun = row('Bun', GiB);
  add('serveFile at 1 GiB: GB/s vs Bun', bun && row('serveFile', GiB).gbps / bun.gbps, '> 1.00x', (v) => v > 1, why(GiB, 'serveFile', 'Bun'));
  // Small responses against node:http answering from memory, the ceiling for a Node server.
  for (const [size, goal] of [
    [4 * KiB, 0.8],
    [16 * KiB, 0.9],
    [100 * KiB, 1.0],
  ]) {
    const label = formatBytes(size);
    add(`serveStatic at ${label}: req/s vs node:http memory`, row('serveStatic', size)?.rpsVsMemory, `>= ${goal.toFixed(2)}x`, (v) => v >= goal, why(size, 'serveStatic', 'node:http memory'));
  }
  const bun4k = row('Bun', 4 * KiB);
  add('serveStatic at 4 KiB: req/s vs Bun', bun4k && row('serveStatic', 4 * KiB) && row('serveStatic', 4 * KiB).rps / bun4k.rps, '> 1.00x', (v) => v > 1, why(4 * KiB, 'serveStatic', 'Bun'));
  const static4k = row('serveStatic', 4 * KiB);
  add('serveFile at 4 KiB: req/s vs serveStatic', static4k && row('serveFile', 4 * KiB) && row('serveFile', 4 * KiB).rps / static4k.rps, '>= 0.90x', (v) => v >= 0.9, why(4 * KiB, 'serveFile', 'serveStatic'));
  // Over TLS, against Node answering from memory with the same protocol, and against the other servers.
  for (const protocol of ['https', 'h2']) {
    const scenario = results[protocol];
    if (!scenario) continue;
    const { short, ceiling } = TLS_SCENARIOS[protocol];
    const tlsRow = (server, size) => scenario.rows?.find((r) => r.server === server && r.size === size && r.primary);
    const tlsWhy = (size, ...peers) => {
      if (scenario.skipped) return `${short} skipped: ${scenario.skipped}`;
      for (const p of ['serveStatic', ...peers]) {
        const pr = tlsRow(p, size);
        if (!pr) return `${formatBytes(size)} not in --${protocol}-sizes`;
        if (pr.skipped) return `${p} skipped: ${pr.skipped}`;
        if (pr.failed) return `${p} failed: ${pr.failed}`;
      }
      return undefined;
    };
    const unit = (size) => (size >= LARGE ? 'GB/s' : 'req/s');
    const versus = (size, peer) => ratio(tlsRow('serveStatic', size)?.rps, tlsRow(peer, size)?.rps);
    for (const size of [4 * KiB, 100 * KiB, 16 * MiB]) {
      add(`serveStatic over ${short} at ${formatBytes(size)}: ${unit(size)} vs ${ceiling}`, versus(size, ceiling), '>= 0.90x', (v) => v >= 0.9, tlsWhy(size, ceiling));
    }
    // HTTPS: ahead of Bun and nginx at every size measured; HTTP/2: ahead of nginx at 100 KiB and 16 MiB.
    const measuredSizes = [...new Set((scenario.rows ?? []).filter((r) => r.primary).map((r) => r.size))];
    const ahead = protocol === 'https' ? [['Bun', measuredSizes], ['nginx', measuredSizes]] : [['nginx', [100 * KiB, 16 * MiB]]];
    for (const [peer, sizes] of ahead) {
      for (const size of sizes) add(`serveStatic over ${short} at ${formatBytes(size)}: ${unit(size)} vs ${peer}`, versus(size, peer), '> 1.00x', (v) => v > 1, tlsWhy(size, peer));
    }
    if (protocol === 'https') {
      // Resident memory as each server's run ends, every file and load behind it.
      const rss = (name) => scenario.servers?.find((x) => x.name === name && !x.skipped)?.rssAtEnd;
      const extra = rss('serveStatic') - rss(ceiling);
      const note = scenario.skipped ? `${short} skipped: ${scenario.skipped}` : !Number.isFinite(extra) ? `no RSS for serveStatic and ${ceiling}` : undefined;
      add(`serveStatic under ${short}: RSS at the end above ${ceiling}'s`, extra / MiB, '<= 64 MiB', (v) => v <= 64, note, ' MiB');
    }
  }
  // Many parked clients: throughput against the same server with none, and memory per parked transfer.
  const parked = results.parked;
  const most = parked && Math.max(...parked.rows.filter((r) => r.server === 'serveStatic' && !r.skipped).map((r) => r.parked));
  const atMost = parked?.rows.find((r) => r.server === 'serveStatic' && r.parked === most);
  const parkedNote = parked ? (atMost ? undefined : 'no serveStatic row') : 'parked not run';
  add(`serveStatic with ${most ?? 'N'} parked: GB/s vs none parked`, atMost?.vsNone, '>= 0.90x', (v) => v >= 0.9, parkedNote);
  add(`serveStatic with ${most ?? 'N'} parked: KiB of memory per parked transfer`, atMost && atMost.rssPerParked / KiB, '<= 16 KiB', (v) => v <= 16, parkedNote, ' KiB');
  // The other two directions.
  const relay = results.relay;
  for (const measure of relay?.measures ?? []) {
    const r = relay.rows.find((x) => x.measure === measure && x.method === 'relay()');
    const note = (peer) => {
      const p = relay.rows.find((x) => x.measure === measure && x.method === peer);
      return p && !p.ok ? `${peer}: ${p.problems[0] ?? 'no run'}` : undefined;
    };
    add(`relay() ${measure}: GB/s vs the C splice loop`, r?.gbpsVsC, '>= 0.90x', (v) => v >= 0.9, note('C splice loop'));
    add(`relay() ${measure}: CPU s/GB vs the C splice loop`, r?.cpuVsC, '<= 1.20x', (v) => v <= 1.2, note('C splice loop'));
    add(`relay() ${measure}: GB/s vs HAProxy`, r?.gbpsVsHAProxy, '> 1.00x', (v) => v > 1, note('HAProxy'));
    add(`relay() ${measure}: CPU s/GB vs a.pipe(b)`, r?.cpuVsPipe, '<= 0.50x', (v) => v <= 0.5, note('a.pipe(b)'));
  }
  const idle = relay?.idle?.rows.find((x) => x.method === 'relay()');
  if (relay) {
    add(`relay() with ${relay.idle?.count ?? 'N'} idle connections: KiB of memory each`, idle && idle.rssPerConnection / KiB, '<= 16 KiB', (v) => v <= 16, idle ? undefined : 'not measured', ' KiB');
    add(`relay() with ${relay.idle?.count ?? 'N'} idle connections: descriptors each`, idle?.fdsPerConnection, '<= 4', (v) => v <= 4, idle ? undefined : 'not measured', '');
  }
  for (const r of results.receive?.rows.filter((x) => x.method === 'receiveFile()') ?? []) {
    add(`receiveFile() into ${r.measure}: GB/s vs the C splice loop`, r.gbpsVsC, '>= 0.90x', (v) => v >= 0.9);
    add(`receiveFile() into ${r.measure}: CPU s/GB vs pipeline`, r.cpuVsPipeline, '<= 0.50x', (v) => v <= 0.5);
  }
  return out;
}

function printTargets(list) {
  console.log('\nTargets (ratios measured side by side in this run):\n');
  printTable(
    [
      { title: 'target', key: 'target' },
      { title: 'measured', key: 'measured', align: 'right' },
      { title: 'goal', key: 'goal', align: 'right' },
      { title: 'met', key: 'met' },
    ],
    list.map((t) => ({
      target: t.target,
      measured: t.measured === null ? '-' : `${t.measured.toFixed(2)}${t.unit ?? 'x'}`,
      goal: t.goal,
      met: t.met === null ? `not measured${t.note ? ` (${t.note})` : ''}` : t.met ? 'yes' : 'NO',
    })),
  );
}

async function main() {
  let options;
  try {
    options = parseCommandLine(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`bench: ${error.message} (try --help)\n`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }

  const { capabilities } = require(ROOT);
  const caps = capabilities();
  const zerocopyVersion = require(path.join(ROOT, 'package.json')).version;
  const date = new Date().toISOString();
  const info = machine();
  console.log(
    `machine: ${info.cores} x ${info.cpu}, ${info.memoryGiB} GiB, ${info.os} ${info.arch}; Node ${info.node}; zerocopy ${zerocopyVersion} ` +
      `(backends: ${caps.backends.join(', ')}${caps.native ? '' : `; addon not loaded: ${caps.loadError}`}); ${date}`,
  );

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'zerocopy-bench-'));
  fs.chmodSync(dir, 0o755); // nginx's worker reads the files
  process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(128 + os.constants.signals[signal]));

  const runs = (name) => options.only.includes(name);
  // Every HTTP scenario serves from one folder; each file is written once.
  const wwwFiles = new Map(); // name -> size
  const sizesOf = { http: options.httpSizes, https: options.httpsSizes, h2: options.h2Sizes };
  for (const [scenario, sizes] of Object.entries(sizesOf)) if (runs(scenario)) for (const { text, size } of sizes) wwwFiles.set(`${text}.bin`, size);
  if (runs('syscalls')) wwwFiles.set(SYSCALL_FILE.name, SYSCALL_FILE.size);
  if (runs('parked')) {
    const { MEASURED_FILE, PARKED_FILE } = require('./lib/parked');
    for (const f of [MEASURED_FILE, PARKED_FILE]) wwwFiles.set(f.name, f.size);
  }
  const flowsSize = Math.max(runs('relay') ? Math.max(options.relaySize, options.relaySmall) : 0, runs('receive') ? options.receiveSize : 0);
  const need = (runs('tcp') ? options.size : 0) + flowsSize + (runs('receive') ? options.receiveSize : 0) + [...wwwFiles.values()].reduce((a, size) => a + size, 0);
  const free = fs.statfsSync(dir);
  if (free.bavail * free.bsize < need * 1.05) throw new Error(`${os.tmpdir()} has ${formatBytes(free.bavail * free.bsize)} free, the files need ${formatBytes(need)}`);

  const results = { date, machine: info, zerocopy: { version: zerocopyVersion, capabilities: caps }, options: { ...options, out: undefined } };

  if (runs('tcp')) {
    const file = path.join(dir, 'tcp.bin');
    log(`\n[tcp] writing a ${formatBytes(options.size)} file in ${dir}`);
    generateFile(file, options.size);
    warmPageCache(file);
    const { tcpBench } = require('./lib/tcp');
    log(`[tcp] ${options.rounds} rounds: ${[...caps.backends.map((b) => `sendFile ${b}`), 'stream.pipeline', 'C sendfile(2) loop'].join(', ')}`);
    results.tcp = await tcpBench({ file, size: options.size, rounds: options.rounds, backends: caps.backends, log });
  }

  const root = path.join(dir, 'www');
  const files = new Map(); // name -> { name, size, label, sha256 }
  if (wwwFiles.size) {
    fs.mkdirSync(root, { mode: 0o755 });
    log('');
    for (const [name, size] of wwwFiles) {
      const file = path.join(root, name);
      log(`[www] writing ${name} (${formatBytes(size)})`);
      generateFile(file, size);
      warmPageCache(file);
      const sha256 = size < 64 * 1024 * 1024 ? createHash('sha256').update(fs.readFileSync(file)).digest('hex') : undefined;
      files.set(name, { name, size, label: formatBytes(size), sha256 });
    }
  }

  if (runs('http')) {
    const { httpBench, LARGE } = require('./lib/http');
    log('[http] servers:');
    results.http = await httpBench({
      root,
      files: options.httpSizes.map(({ text }) => files.get(`${text}.bin`)),
      rounds: options.rounds,
      duration: options.duration,
      connections: options.connections,
      install: options.install,
      zerocopyVersion,
      log,
    });
    results.http.large = LARGE;
  }

  if (runs('https') || runs('h2')) {
    const { makeCertificate, tlsBench } = require('./lib/tls');
    let tls;
    try {
      tls = await makeCertificate(dir, { install: options.install });
      log(`\n[tls] certificate: ${tls.description}`);
    } catch (error) {
      // No openssl: the TLS scenarios cannot run; the rest of the run stands.
      log(`\n[tls] skipped: no certificate: ${error.message}`);
      for (const scenario of ['https', 'h2']) if (runs(scenario)) results[scenario] = { protocol: scenario, skipped: `no certificate: ${error.message}` };
    }
    const scenarios = {
      https: { loads: options.httpsConnections.map((c) => ({ connections: c })), largeLoad: { connections: options.httpsLargeConnections } },
      h2: { loads: options.h2Loads, largeLoad: options.h2LargeLoad },
    };
    for (const [protocol, { loads, largeLoad }] of Object.entries(scenarios)) {
      if (!runs(protocol) || !tls) continue;
      log(`\n[${protocol}] servers:`);
      results[protocol] = await tlsBench({
        protocol,
        root,
        files: sizesOf[protocol].map(({ text }) => files.get(`${text}.bin`)),
        rounds: options.rounds,
        duration: options.duration,
        loads,
        largeLoad,
        tls,
        install: options.install,
        zerocopyVersion,
        log,
      });
    }
  }

  if (runs('syscalls')) {
    const { syscallBench } = require('./lib/syscalls');
    log(`\n[syscalls] strace -c -f on each server over ${options.syscallRequests} requests for ${formatBytes(SYSCALL_FILE.size)}; servers:`);
    try {
      results.syscalls = await syscallBench({
        root,
        file: files.get(SYSCALL_FILE.name),
        requests: options.syscallRequests,
        connections: options.connections[0],
        install: options.install,
        zerocopyVersion,
        log,
      });
    } catch (error) {
      // No strace (or no C compiler): the rest of the run stands.
      results.syscalls = { skipped: error.message };
      log(`  skipped: ${error.message}`);
    }
  }

  if (runs('parked')) {
    const { parkedBench } = require('./lib/parked');
    log(`\n[parked] ${options.parked.join(', ')} parked clients, each measured with wrk on 1 MiB responses; servers:`);
    try {
      results.parked = await parkedBench({
        root,
        counts: options.parked,
        rounds: options.rounds,
        duration: options.duration,
        connections: options.connections[0],
        install: options.install,
        zerocopyVersion,
        log,
      });
    } catch (error) {
      // Not root, no tcp_wmem to cap, no wrk: the rest of the run stands.
      results.parked = { skipped: error.message };
      log(`  skipped: ${error.message}`);
    }
  }

  if (flowsSize > 0) {
    const file = path.join(dir, 'flows.bin');
    log(`\n[relay, receive] writing a ${formatBytes(flowsSize)} file in ${dir}`);
    generateFile(file, flowsSize);
    warmPageCache(file);
    const { relayBench, receiveBench, idleBench } = require('./lib/flows');
    if (runs('relay')) {
      log(`[relay] ${options.rounds} rounds: relay(), a.pipe(b), C splice loop, HAProxy, socat; servers:`);
      try {
        results.relay = await relayBench({
          file,
          size: options.relaySize,
          small: options.relaySmall,
          connections: options.relayConnections,
          concurrency: options.relayConcurrency,
          rounds: options.rounds,
          install: options.install,
          log,
        });
        log(`[relay] ${options.idle} idle relayed connections:`);
        results.relay.idle = await idleBench({ count: options.idle, log });
      } catch (error) {
        results.relay = { skipped: error.message };
        log(`  skipped: ${error.message}`);
      }
    }
    if (runs('receive')) {
      log(`\n[receive] ${options.rounds} rounds: receiveFile(), pipeline, C splice loop; on disk and on tmpfs:`);
      results.receive = await receiveBench({ file, size: options.receiveSize, rounds: options.rounds, log });
    }
  }

  if (results.tcp || results.http || results.https || results.h2 || results.parked || results.relay || results.receive) results.targets = targets(results);
  if (results.tcp) printTcp(results.tcp);
  if (results.http) printHttp(results.http);
  if (results.https) printTls(results.https);
  if (results.h2) printTls(results.h2);
  if (results.syscalls) printSyscalls(results.syscalls, results.http);
  if (results.parked) printParked(results.parked);
  if (results.relay) printRelay(results.relay);
  if (results.receive) printReceive(results.receive);
  if (results.targets) printTargets(results.targets);

  fs.mkdirSync(options.out, { recursive: true });
  const jsonFile = path.join(options.out, 'latest.json');
  fs.writeFileSync(jsonFile, `${JSON.stringify(results, null, 2)}\n`);
  const { renderChart } = require('./lib/chart');
  const svgFile = path.join(options.out, 'chart.svg');
  const shown = (file) => path.relative(process.cwd(), file) || file;
  try {
    fs.writeFileSync(svgFile, await renderChart(results));
    console.log(`\nwrote ${shown(jsonFile)} and ${shown(svgFile)}`);
  } catch (error) {
    // An installed zerocopy has no vega: the chart is the one thing it cannot make.
    if (error?.code !== 'ERR_MODULE_NOT_FOUND') throw error;
    console.log(`\nwrote ${shown(jsonFile)}; no chart: it needs vega and vega-lite (npm install vega vega-lite)`);
  }
  const failed = (results.tcp?.rows ?? []).some((r) => !r.ok);
  if (failed) process.exitCode = 1;
}

main().catch((error) => {
  console.error(`bench: ${error?.stack ?? error}`);
  process.exit(1);
});
