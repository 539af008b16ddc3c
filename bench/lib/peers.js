// The HTTP servers under test, each in a process of its own on loopback,
// and the tools the benchmark needs (wrk, h2load, nginx, Bun), installed on
// demand: wrk, h2load and nginx from Debian's packages with apt-get, Bun
// from the npm package that carries its runtime, into .bench/bun.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { CACHE, ROOT, LARGE, MiB, formatBytes, run, tail, which, startChild, stopChild, childPids, freePort } = require('./util');

const SERVERS = path.join(__dirname, '..', 'servers');
/** The Bun runtime the benchmark installs when there is no `bun` on PATH. */
const BUN_SPEC = '^1';

const installs = new Map();

/** apt-get install PACKAGE unless BINARY is already there; resolves with the binary's path. */
function ensureApt(pkg, binary, { install }) {
  if (installs.has(pkg)) return installs.get(pkg);
  const promise = (async () => {
    let found = which(binary);
    if (found) return found;
    if (!install) throw new Error(`${binary} is not installed (--no-install)`);
    if (process.getuid?.() !== 0) throw new Error(`${binary} is not installed, and apt-get install ${pkg} needs root`);
    if (!which('apt-get')) throw new Error(`${binary} is not installed, and there is no apt-get to install ${pkg}`);
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
    const args = ['install', '-y', '--no-install-recommends', pkg];
    let result = await run('apt-get', args, { env, timeoutMs: 600000 });
    if (result.code !== 0) {
      // Perhaps the package lists are missing or stale: once more after an update.
      await run('apt-get', ['update'], { env, timeoutMs: 600000 });
      result = await run('apt-get', args, { env, timeoutMs: 600000 });
    }
    found = which(binary);
    if (!found) throw new Error(`apt-get install ${pkg} failed: ${tail(result.stderr || result.stdout)}`);
    return found;
  })();
  installs.set(pkg, promise);
  return promise;
}

function bunPackage() {
  if (os.platform() !== 'linux') return undefined;
  const glibc = process.report?.getReport?.().header?.glibcVersionRuntime;
  const musl = glibc ? '' : '-musl';
  if (os.arch() === 'arm64') return `@oven/bun-linux-aarch64${musl}`;
  if (os.arch() !== 'x64') return undefined;
  // Bun's default x64 build needs AVX2; its baseline build does not.
  let avx2 = false;
  try {
    avx2 = /\bavx2\b/.test(fs.readFileSync('/proc/cpuinfo', 'utf8'));
  } catch {}
  return `@oven/bun-linux-x64${musl}${avx2 ? '' : '-baseline'}`;
}

/** A `bun` on PATH, or the runtime from npm in .bench/bun (installed there when missing). */
async function ensureBun({ install }) {
  const onPath = which('bun');
  if (onPath) return onPath;
  const pkg = bunPackage();
  if (!pkg) throw new Error(`no Bun runtime package for ${os.platform()}-${os.arch()}`);
  const prefix = path.join(CACHE, 'bun');
  const binary = path.join(prefix, 'node_modules', ...pkg.split('/'), 'bin', 'bun');
  if (!fs.existsSync(binary)) {
    if (!install) throw new Error('bun is not installed (--no-install)');
    fs.mkdirSync(prefix, { recursive: true });
    if (!fs.existsSync(path.join(prefix, 'package.json'))) fs.writeFileSync(path.join(prefix, 'package.json'), '{ "private": true }\n');
    const result = await run('npm', ['install', '--no-audit', '--no-fund', '--no-package-lock', '--ignore-scripts', `${pkg}@${BUN_SPEC}`], {
      cwd: prefix,
      timeoutMs: 600000,
    });
    if (!fs.existsSync(binary)) throw new Error(`npm install ${pkg} failed: ${tail(result.stderr || result.stdout)}`);
    fs.chmodSync(binary, 0o755);
  }
  return binary;
}

function packageVersion(name) {
  try {
    return require(require.resolve(`${name}/package.json`, { paths: [ROOT] })).version;
  } catch {
    return undefined;
  }
}

/** A Node server script from bench/servers, one process; `env` names its protocol (see bench/servers/listen.js). */
function nodeServer(script, args = [], env = {}) {
  return async ({ root }) => {
    const { child, message } = await startChild(process.execPath, [path.join(SERVERS, script), root, ...args], { cwd: ROOT, env: { ...process.env, ...env } });
    return { port: message.port, pids: () => [child.pid], stop: () => stopChild(child) };
  };
}

/** The environment that makes a server of bench/servers speak `protocol` (http, https, h2) with the bench's certificate. */
function protocolEnv(protocol, tls) {
  if (protocol === 'http') return {};
  return { BENCH_PROTOCOL: protocol, BENCH_TLS_KEY: tls.key, BENCH_TLS_CERT: tls.cert };
}

function requireModule(name) {
  return async () => {
    const version = packageVersion(name);
    if (!version) throw new Error(`npm package ${name} is not installed (npm install ${name})`);
    return `${name} ${version}`;
  };
}

/**
 * The servers. `prepare` installs what is missing and resolves with a
 * version string, or rejects with the reason the server is skipped.
 * `start` resolves with its port, its process ids (for CPU time) and stop().
 * `maxSize`, when set: files of that size and more are not served (skipped).
 * `parked`: part of the parked-clients scenario (parked.js).
 */
function servers({ install, zerocopyVersion }) {
  return [
    {
      // The ceiling: what node:http itself costs per response, with the
      // file's bytes and headers ready in memory. Only small files: a
      // large one held in memory would measure a copy, not a ceiling.
      name: 'node:http memory',
      kind: 'ceiling',
      maxSize: LARGE,
      maxSizeReason: `holds files under ${formatBytes(LARGE)} only (the ceiling for small files)`,
      prepare: async () => `node:http ${process.version}, res.end(buffer) from memory`,
      start: nodeServer('node-memory.js', [String(LARGE)]),
    },
    {
      name: 'serveFile',
      parked: true,
      kind: 'zerocopy',
      prepare: async () => `zerocopy ${zerocopyVersion}, node:http`,
      start: nodeServer('zerocopy-servefile.js'),
    },
    {
      name: 'serveStatic',
      parked: true,
      kind: 'zerocopy',
      prepare: async () => `zerocopy ${zerocopyVersion}, node:http, defaults`,
      start: nodeServer('zerocopy-servestatic.js'),
    },
    {
      name: 'serveStatic no cache',
      kind: 'zerocopy',
      prepare: async () => `zerocopy ${zerocopyVersion}, node:http, { cache: false }`,
      start: nodeServer('zerocopy-servestatic.js', ['nocache']),
    },
    {
      name: 'send',
      parked: true,
      kind: 'peer',
      prepare: async () => `${await requireModule('send')()}, node:http`,
      start: nodeServer('send.js'),
    },
    {
      name: '@fastify/static',
      kind: 'peer',
      prepare: async () => `${await requireModule('@fastify/static')()}, ${await requireModule('fastify')()}`,
      start: nodeServer('fastify-static.js'),
    },
    bunServer({ install }),
    { ...nginxServer({ install, protocol: 'http' }), parked: true },
  ];
}

/**
 * The TLS ceiling holds files under this size: the 16 MiB file of the
 * HTTPS and HTTP/2 targets included, a 1 GiB one not.
 */
const TLS_MEMORY_MAX = 64 * MiB;

/**
 * The servers of the TLS scenarios, over TLS 1.3 with the bench's
 * certificate (`tls`: { key, cert } PEM files): `protocol` 'https' (HTTP/1.1)
 * or 'h2' (HTTP/2, no HTTP/1.1 fallback). Each with the ceiling for its
 * protocol, Node answering from memory.
 */
function tlsServers({ protocol, tls, install, zerocopyVersion }) {
  const env = protocolEnv(protocol, tls);
  const node = protocol === 'h2' ? 'node:http2' : 'node:https';
  const memory = {
    name: `${node} memory`,
    kind: 'ceiling',
    maxSize: TLS_MEMORY_MAX,
    maxSizeReason: `holds files under ${formatBytes(TLS_MEMORY_MAX)} only`,
    prepare: async () => `${node} ${process.version}, ${protocol === 'h2' ? 'stream.respond() + stream.end(buffer)' : 'res.end(buffer)'} from memory`,
    start: nodeServer('node-memory.js', [String(TLS_MEMORY_MAX)], env),
  };
  const serveStatic = {
    name: 'serveStatic',
    kind: 'zerocopy',
    prepare: async () => `zerocopy ${zerocopyVersion}, ${protocol === 'h2' ? 'http2.createSecureServer(serveStatic(root))' : 'node:https'}, defaults`,
    start: nodeServer('zerocopy-servestatic.js', [], env),
  };
  if (protocol === 'h2') return [memory, serveStatic, nginxServer({ install, protocol, tls })];
  return [
    memory,
    serveStatic,
    {
      name: 'serveFile',
      kind: 'zerocopy',
      prepare: async () => `zerocopy ${zerocopyVersion}, node:https`,
      start: nodeServer('zerocopy-servefile.js', [], env),
    },
    {
      name: 'send',
      kind: 'peer',
      prepare: async () => `${await requireModule('send')()}, node:https`,
      start: nodeServer('send.js', [], env),
    },
    bunServer({ install, tls }),
    nginxServer({ install, protocol, tls }),
  ];
}

/** Bun.serve with Bun.file, over TLS when `tls` is given. */
function bunServer({ install, tls }) {
  let binary;
  return {
    name: 'Bun',
    kind: 'peer',
    prepare: async () => {
      binary = await ensureBun({ install });
      const result = await run(binary, ['--version'], { timeoutMs: 20000 });
      if (result.code !== 0) throw new Error(`bun --version failed: ${tail(result.stderr)}`);
      return `Bun ${result.stdout.trim()}, Bun.serve${tls ? ' { tls }' : ''} + Bun.file`;
    },
    start: async ({ root }) => {
      const env = tls ? { ...process.env, BENCH_TLS_KEY: tls.key, BENCH_TLS_CERT: tls.cert } : undefined;
      const { child, message } = await startChild(binary, [path.join(SERVERS, 'bun.js'), root], { cwd: ROOT, env });
      return { port: message.port, pids: () => [child.pid], stop: () => stopChild(child) };
    },
  };
}

/** nginx -v's version, as [major, minor, patch]. */
const nginxVersion = (text) => (/nginx\/(\d+)\.(\d+)\.(\d+)/.exec(text) ?? [0, 0, 0, 0]).slice(1).map(Number);
/** `http2 on;` came with nginx 1.25.1; before it, HTTP/2 was a parameter of `listen`. */
const hasHttp2Directive = ([major, minor, patch]) => major > 1 || (major === 1 && (minor > 25 || (minor === 25 && patch >= 1)));

/** nginx, one worker: `protocol` http, https (ssl) or h2 (ssl and HTTP/2), each with a folder of its own in .bench/. */
function nginxServer({ install, protocol, tls }) {
  let binary;
  let version;
  const dir = path.join(CACHE, protocol === 'http' ? 'nginx' : `nginx-${protocol}`);
  return {
    name: 'nginx',
    kind: 'peer',
    prepare: async () => {
      binary = await ensureApt('nginx', 'nginx', { install });
      const result = await run(binary, ['-V'], { timeoutMs: 20000 });
      version = nginxVersion(result.stderr);
      const needs = { https: ['http_ssl'], h2: ['http_ssl', 'http_v2'] }[protocol] ?? [];
      for (const module of needs) if (!result.stderr.includes(`--with-${module}_module`)) throw new Error(`this nginx is built without ${module}`);
      const name = (result.stderr.match(/nginx\/\S+/) ?? ['nginx'])[0];
      const tlsNote = protocol === 'http' ? '' : protocol === 'h2' ? `, ssl + ${hasHttp2Directive(version) ? 'http2 on' : 'listen ... http2'}, TLSv1.3` : ', ssl, TLSv1.3';
      return `${name}, sendfile on, tcp_nopush on${tlsNote}, 1 worker`;
    },
    start: async ({ root }) => {
      fs.mkdirSync(path.join(dir, 'temp'), { recursive: true });
      stopStaleNginx(dir);
      const port = await freePort();
      const conf = path.join(dir, 'nginx.conf');
      fs.writeFileSync(conf, nginxConfig({ dir, root, port, listen: nginxListen({ port, protocol, tls, version }) }));
      const { child } = await startChild(binary, ['-p', dir, '-e', path.join(dir, 'error.log'), '-c', conf], { waitForJson: false });
      // Ready when it accepts a connection.
      const deadline = Date.now() + 20000;
      while (!(await accepts(port))) {
        if (child.exitCode !== null) throw new Error(`nginx exited: ${tail(fs.readFileSync(path.join(dir, 'error.log'), 'utf8'))}`);
        if (Date.now() > deadline) {
          await stopChild(child);
          throw new Error('nginx did not answer within 20 s');
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      const workers = childPids(child.pid);
      return { port, pids: () => [child.pid, ...workers], stop: () => stopChild(child) };
    },
  };
}

/** Whether something accepts TCP connections on 127.0.0.1:port. */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/** The server block's listen directives for `protocol`. */
function nginxListen({ port, protocol, tls, version }) {
  if (protocol === 'http') return `listen 127.0.0.1:${port};`;
  const h2 = protocol === 'h2';
  return [
    `listen 127.0.0.1:${port} ssl${h2 && !hasHttp2Directive(version) ? ' http2' : ''};`,
    ...(h2 && hasHttp2Directive(version) ? ['http2 on;'] : []),
    `ssl_certificate ${tls.cert};`,
    `ssl_certificate_key ${tls.key};`,
    'ssl_protocols TLSv1.3;',
  ].join('\n    ');
}

/**
 * An nginx left running by an earlier bench that was killed outright (its
 * master is not our child, so nothing else would stop it): only one whose
 * command line names this bench's own config.
 */
function stopStaleNginx(dir) {
  let pid;
  try {
    pid = Number(fs.readFileSync(path.join(dir, 'nginx.pid'), 'utf8').trim());
    const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8');
    if (pid > 0 && cmdline.includes(path.join(dir, 'nginx.conf'))) process.kill(pid, 'SIGTERM');
  } catch {}
}

/**
 * nginx as a file server should be set up: sendfile on, tcp_nopush on, no
 * access log. One worker process, as every other server here is one
 * process (the Node servers run JavaScript on one thread; Bun serves on one).
 * keepalive_requests is raised from 1000 so that, as with Node's and Bun's
 * servers, connections are not closed every 1000 requests. For the parked
 * clients (thousands of connections, each with a socket and a file open),
 * the worker may open as many descriptors as the hard limit allows, as a
 * Node process does by itself, with connections to match; and send_timeout
 * is raised from 60 s, after which nginx would drop a client that reads
 * nothing, so that none is dropped in the middle of a measurement.
 * `listen` is the server block's listen directives, with the TLS ones for
 * HTTPS and HTTP/2 (nginxListen); sendfile stays on there as a deployment
 * would have it, though nginx cannot use it under TLS without kTLS.
 */
function nginxConfig({ dir, root, listen }) {
  const temp = (name) => `${name}_temp_path ${path.join(dir, 'temp', name)};`;
  const files = hardFileLimit();
  return `# Written by bench/lib/peers.js for one benchmark run.
${process.getuid?.() === 0 ? 'user root root;\n' : ''}daemon off;
master_process on;
worker_processes 1;
pid ${path.join(dir, 'nginx.pid')};
error_log ${path.join(dir, 'error.log')} warn;
worker_rlimit_nofile ${files};
events { worker_connections ${Math.max(1024, Math.min(16384, Math.floor(files / 2)))}; }
http {
  sendfile on;
  tcp_nopush on;
  access_log off;
  keepalive_requests 1000000;
  send_timeout 1h;
  default_type application/octet-stream;
  ${temp('client_body')}
  ${temp('proxy')}
  ${temp('fastcgi')}
  ${temp('uwsgi')}
  ${temp('scgi')}
  server {
    ${listen}
    root ${root};
  }
}
`;
}

/** This process's hard limit on open descriptors (what a child may raise its soft limit to). */
function hardFileLimit() {
  try {
    const m = fs.readFileSync('/proc/self/limits', 'utf8').match(/^Max open files\s+\S+\s+(\S+)/m);
    if (m) return m[1] === 'unlimited' ? 1048576 : Number(m[1]); // unlimited: Linux's own ceiling, fs.nr_open, by default
  } catch {}
  return 1024;
}

module.exports = { servers, tlsServers, ensureApt, hardFileLimit };
