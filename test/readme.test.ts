// Every JavaScript block of the README, run as a user would run it: copied
// into a folder of its own with the files the examples name (a `public`
// folder, a `reports` folder, a `big.iso`, a certificate) and
// `require('zerocopy')` resolving to this package, then started with Node.
// A block that starts a server is asked what it promises to answer, then
// met by the clients real servers meet: one that sends HEAD, and one that
// leaves in the middle of a response (or an upload). The example must live
// through both and go on answering. A block without a check here, or a
// check that matches no block, fails the test: the README cannot grow an
// example that does not run.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import { connect, createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { join } from 'node:path';
import * as tls from 'node:tls';
import { brotliCompressSync } from 'node:zlib';
import { parse as parseDisposition } from 'content-disposition';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from './support/files.js';
import { parseResponses, rawExchange, rawRequest, type ParsedResponse } from './support/http.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { within } from './support/waiting.js';

const repo = join(__dirname, '..');
const blocks = [...readFileSync(join(repo, 'README.md'), 'utf8').matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

let dir: TempDir;
const bigIso = randomBytes(2 * 1024 * 1024 + 7);
const bigBin = randomBytes(3 * 1024 * 1024);
let certificate: { key: Buffer; cert: Buffer };
const children: ChildProcess[] = [];
const servers: Server[] = [];

beforeAll(async () => {
  dir = makeTempDir('zerocopy-readme-');
  for (const folder of ['public', 'reports', 'uploads', 'tls', 'node_modules']) mkdirSync(join(dir.path, folder));
  writeFileSync(join(dir.path, 'big.iso'), bigIso);
  writeFileSync(join(dir.path, 'public', 'index.html'), '<title>home</title>\n');
  writeFileSync(join(dir.path, 'public', 'hello.txt'), 'hello\n');
  writeFileSync(join(dir.path, 'public', 'about.html'), '<title>about</title>\n');
  writeFileSync(join(dir.path, 'public', 'big.bin'), bigBin);
  writeFileSync(join(dir.path, 'public', 'app.js'), 'console.log("app");\n');
  writeFileSync(join(dir.path, 'public', 'app.js.br'), brotliCompressSync('console.log("app");\n'));
  writeFileSync(join(dir.path, 'reports', 'q1.csv'), 'quarter,total\nq1,42\n');
  writeFileSync(join(dir.path, 'reports', 'all.csv'), bigBin);
  certificate = await makeSelfSignedCertificate(dir.path);
  writeFileSync(join(dir.path, 'tls', 'key.pem'), certificate.key);
  writeFileSync(join(dir.path, 'tls', 'cert.pem'), certificate.cert);
  // `require('zerocopy')` is this package; the frameworks are its dev dependencies.
  symlinkSync(repo, join(dir.path, 'node_modules', 'zerocopy'));
  for (const name of ['express', 'fastify', 'koa']) symlinkSync(join(repo, 'node_modules', name), join(dir.path, 'node_modules', name));
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  for (const server of servers.splice(0)) server.close();
});
afterAll(() => dir?.remove());

/** Starts block `index` in the folder with its files, as a module when it imports. */
function start(index: number, env: NodeJS.ProcessEnv = {}): ChildProcess {
  const code = blocks[index];
  const file = join(dir.path, `block-${index}.${/^import /m.test(code) ? 'mjs' : 'js'}`);
  writeFileSync(file, code);
  const child = spawn(process.execPath, ['--require', join(__dirname, 'support', 'listen-anywhere.js'), file], {
    cwd: dir.path,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

/** Starts a block that serves, and resolves with the ports it listens on, in order, and the process. */
async function serving(index: number, count = 1, env: NodeJS.ProcessEnv = {}): Promise<{ ports: number[]; child: ChildProcess }> {
  const child = start(index, env);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const ports: number[] = [];
  let buffered = '';
  await within(
    new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (chunk) => {
        buffered += chunk;
        for (const m of buffered.matchAll(/^LISTENING (\d+)$/gm)) if (!ports.includes(Number(m[1]))) ports.push(Number(m[1]));
        if (ports.length >= count) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited (${code}) before listening`)));
    }),
    10_000,
    `README block ${index} to listen`,
  ).catch((error) => {
    throw new Error(`${error.message}\n${stderr}`);
  });
  return { ports, child };
}

async function get(port: number, path: string, headers: Record<string, string> = {}, method = 'GET'): Promise<ParsedResponse> {
  return (await rawExchange(port, rawRequest(path, headers, method), 1, [method === 'HEAD'])).responses[0];
}

const filename = (r: ParsedResponse) => parseDisposition(r.headers['content-disposition']).parameters.filename;

/** Sends `request` on a fresh connection (TLS with `secure`) and leaves as soon as the first bytes of the answer arrive. */
async function leaveEarly(port: number, request: string | Buffer, secure = false): Promise<void> {
  const socket: Socket = secure ? tls.connect({ port, host: '127.0.0.1', ca: certificate.cert, servername: 'localhost' }) : connect(port, '127.0.0.1');
  socket.on('error', () => {});
  await once(socket, secure ? 'secureConnect' : 'connect');
  socket.write(request);
  await within(once(socket, 'data'), 10_000, 'the first bytes of the answer');
  socket.destroy();
}

/** The clients every HTTP example meets: HEAD, and one that leaves mid-body; then the example is alive and answers whole. */
async function survivesClients(child: ChildProcess, port: number, path: string, body: Buffer, secure = false): Promise<void> {
  const head = secure ? await tlsGet(port, path, 'HEAD') : await get(port, path, {}, 'HEAD');
  expect([path, head.status, head.body.length]).toEqual([path, 200, 0]);
  expect(Number(head.headers['content-length'])).toBe(body.length);
  for (let i = 0; i < 3; i++) await leaveEarly(port, rawRequest(path), secure);
  await new Promise((resolve) => setTimeout(resolve, 100));
  expect({ exitCode: child.exitCode, signal: child.signalCode }).toEqual({ exitCode: null, signal: null });
  const again = secure ? await tlsGet(port, path) : await get(port, path);
  expect(again.body.equals(body), `${path} whole after clients left`).toBe(true);
}

/** One HTTP/1.1 request over TLS, trusting the test certificate. */
function tlsGet(port: number, path: string, method = 'GET'): Promise<ParsedResponse> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ port, host: '127.0.0.1', ca: certificate.cert, servername: 'localhost' }, () => socket.write(rawRequest(path, {}, method)));
    const chunks: Buffer[] = [];
    socket.on('data', (c) => {
      chunks.push(c);
      const { responses } = parseResponses(Buffer.concat(chunks), [method === 'HEAD']);
      if (responses.length > 0) {
        socket.destroy();
        resolve(responses[0]);
      }
    });
    socket.on('error', reject);
  });
}

/** A PUT of `body` by node:http's client, on a connection of its own. */
async function put(port: number, path: string, body: Buffer): Promise<{ status: number; body: string }> {
  const request = http.request({ port, host: '127.0.0.1', path, method: 'PUT', agent: false, headers: { 'Content-Length': body.length } });
  request.end(body);
  const [response] = (await within(once(request, 'response'), 10_000, `the answer to PUT ${path}`)) as [http.IncomingMessage];
  let text = '';
  for await (const chunk of response) text += chunk;
  return { status: response.statusCode!, body: text };
}

/** A TCP server on a free port that echoes what it gets, upper-cased, and ends when its client does. */
async function echoUpstream(): Promise<number> {
  const server = createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('data', (c: Buffer) => socket.write(Buffer.from(c.toString('latin1').toUpperCase(), 'latin1')));
    socket.on('end', () => socket.end());
    socket.on('error', () => {});
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

/** What each block promises, found by a line of it. */
const checks: { marks: string; check: (index: number) => Promise<void> }[] = [
  {
    marks: "sendFile(socket, './big.iso'",
    async check(index) {
      const { ports: [port], child } = await serving(index);
      const whole = Buffer.concat([Buffer.from('SIZE ...\n'), bigIso, Buffer.from('\nDONE\n')]);
      const receive = async () => {
        const socket = connect(port, '127.0.0.1');
        const chunks: Buffer[] = [];
        socket.on('data', (c) => chunks.push(c));
        await within(once(socket, 'end'), 10_000, 'the net example to end its socket');
        socket.destroy();
        return Buffer.concat(chunks);
      };
      expect((await receive()).equals(whole)).toBe(true);
      // Clients that leave early: the example goes on.
      for (let i = 0; i < 3; i++) await leaveEarly(port, '');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(child.exitCode).toBe(null);
      expect((await receive()).equals(whole)).toBe(true);
    },
  },
  {
    marks: "serveStatic('./public', { maxAge: '1h', precompressed: true })",
    async check(index) {
      const { ports: [port], child } = await serving(index);
      const download = await get(port, '/download');
      expect([download.status, filename(download)]).toEqual([200, 'big.iso']);
      expect(download.body.equals(bigIso)).toBe(true);
      const hello = await get(port, '/hello.txt?x=1');
      expect([hello.body.toString(), hello.headers['cache-control']]).toEqual(['hello\n', 'public, max-age=3600']);
      expect((await get(port, '/app.js', { 'Accept-Encoding': 'br' })).headers['content-encoding']).toBe('br');
      expect((await get(port, '/../big.iso')).status).toBe(403);
      await survivesClients(child, port, '/download', bigIso);
      await survivesClients(child, port, '/big.bin', bigBin);
    },
  },
  {
    marks: "app.get('/reports/:name'",
    async check(index) {
      const { ports: [port], child } = await serving(index);
      expect((await get(port, '/static/about')).body.toString()).toBe('<title>about</title>\n');
      const report = await get(port, '/reports/q1.csv');
      expect([report.status, filename(report), report.body.toString()]).toEqual([200, 'q1.csv', 'quarter,total\nq1,42\n']);
      // A missing report: Express's own 404 (its HTML page), not serveFile's text.
      const missing = await get(port, '/reports/nope.csv');
      expect([missing.status, missing.headers['content-type']]).toEqual([404, 'text/html; charset=utf-8']);
      expect((await get(port, '/reports/%2e%2e%2fbig.iso')).status).toBe(403);
      await survivesClients(child, port, '/reports/all.csv', bigBin);
      await survivesClients(child, port, '/static/big.bin', bigBin);
    },
  },
  {
    marks: 'fastify.register(fastifyServeStatic',
    async check(index) {
      const { ports: [port], child } = await serving(index);
      expect((await get(port, '/static/hello.txt')).body.toString()).toBe('hello\n');
      const greeting = await get(port, '/greeting');
      expect([greeting.status, filename(greeting), greeting.body.toString()]).toEqual([200, 'greeting.txt', 'hello\n']);
      const missing = await get(port, '/no/such/page');
      expect([missing.status, missing.body.toString()]).toEqual([404, '<title>home</title>\n']);
      await survivesClients(child, port, '/static/big.bin', bigBin);
    },
  },
  {
    marks: 'app.use(koaServeStatic(',
    async check(index) {
      const { ports: [port], child } = await serving(index);
      const download = await get(port, '/download', { Range: 'bytes=-5' });
      expect([download.status, download.reason, filename(download)]).toEqual([206, 'Partial Content', 'big.iso']);
      expect(download.body.equals(bigIso.subarray(-5))).toBe(true);
      const hello = await get(port, '/hello.txt');
      expect([hello.body.toString(), hello.headers['cache-control']]).toEqual(['hello\n', 'public, max-age=86400']);
      expect((await get(port, '/missing.txt')).status).toBe(404);
      await survivesClients(child, port, '/download', bigIso);
      await survivesClients(child, port, '/big.bin', bigBin);
    },
  },
  {
    marks: 'http2.createSecureServer({ ...tls, allowHTTP1: true }, files)',
    async check(index) {
      const { ports: [httpsPort, h2Port], child } = await serving(index, 2);
      expect((await tlsGet(httpsPort, '/hello.txt')).body.toString()).toBe('hello\n');
      const client = http2.connect(`https://127.0.0.1:${h2Port}`, { ca: certificate.cert, servername: 'localhost' });
      try {
        const stream = client.request({ ':path': '/hello.txt' });
        const chunks: Buffer[] = [];
        stream.on('data', (c) => chunks.push(c));
        const [headers] = await within(once(stream, 'response'), 10_000, 'the HTTP/2 example to answer');
        await once(stream, 'end');
        expect([headers[':status'], Buffer.concat(chunks).toString()]).toEqual([200, 'hello\n']);
        // An HTTP/2 client that cancels a download as its head arrives.
        for (let i = 0; i < 5; i++) {
          const big = client.request({ ':path': '/big.bin' });
          big.on('error', () => {});
          await once(big, 'response');
          big.close(http2.constants.NGHTTP2_CANCEL);
        }
      } finally {
        client.close();
      }
      await survivesClients(child, httpsPort, '/big.bin', bigBin, true);
      await survivesClients(child, h2Port, '/big.bin', bigBin, true); // HTTP/1.1 there too: allowHTTP1
    },
  },
  {
    marks: "new URL('./public/', import.meta.url)",
    async check(index) {
      const { ports: [port], child } = await serving(index);
      expect((await get(port, '/some/client/route')).body.toString()).toBe('<title>home</title>\n');
      expect((await get(port, '/hello.txt')).body.toString()).toBe('hello\n');
      expect((await get(port, '/missing.css')).status).toBe(404);
      await survivesClients(child, port, '/big.bin', bigBin);
    },
  },
  {
    marks: "receiveFile(req, path.join('./uploads', name))",
    async check(index) {
      const { ports: [port], child } = await serving(index);
      const uploaded = await put(port, '/a%20b.bin', bigBin);
      expect([uploaded.status, uploaded.body]).toEqual([201, `${bigBin.length} bytes\n`]);
      expect(readFileSync(join(dir.path, 'uploads', 'a b.bin')).equals(bigBin)).toBe(true);
      expect((await get(port, '/a%20b.bin', {}, 'HEAD')).status).toBe(405);
      // Clients that leave half-way through their upload.
      for (let i = 0; i < 3; i++) {
        const socket = connect(port, '127.0.0.1');
        socket.on('error', () => {});
        await once(socket, 'connect');
        socket.write(rawRequest('/cut.bin', { 'Content-Length': String(bigBin.length) }, 'PUT'));
        socket.write(bigBin.subarray(0, 100_000));
        await new Promise((resolve) => setTimeout(resolve, 50));
        socket.destroy();
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(child.exitCode).toBe(null);
      expect((await put(port, '/again.bin', bigIso)).status).toBe(201);
      expect(readFileSync(join(dir.path, 'uploads', 'again.bin')).equals(bigIso)).toBe(true);
    },
  },
  {
    marks: 'relay(client, upstream',
    async check(index) {
      const upstream = await echoUpstream();
      const { ports: [port], child } = await serving(index, 1, { ZEROCOPY_README_UPSTREAM: String(upstream) });
      const through = async (data: Buffer) => {
        const socket = connect({ port, host: '127.0.0.1', allowHalfOpen: true });
        const chunks: Buffer[] = [];
        socket.on('data', (c) => chunks.push(c));
        await once(socket, 'connect');
        socket.end(data); // done sending, still reading: a half-close, relayed as it is
        await within(once(socket, 'end'), 10_000, 'the relayed answer to end');
        socket.destroy();
        return Buffer.concat(chunks);
      };
      const text = Buffer.from('hello through the proxy\n'.repeat(50_000));
      expect((await through(text)).toString()).toBe(text.toString().toUpperCase());
      // Clients that leave mid-stream.
      for (let i = 0; i < 3; i++) await leaveEarly(port, text);
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect(child.exitCode).toBe(null);
      expect((await through(Buffer.from('again\n'))).toString()).toBe('AGAIN\n');
    },
  },
];

describe('README', () => {
  it('has a check for each JavaScript block, and each check its block', () => {
    const owners = blocks.map((code) => checks.filter((c) => code.includes(c.marks)).length);
    expect(owners, 'checks per README block').toEqual(blocks.map(() => 1));
    expect(checks.map((c) => blocks.filter((code) => code.includes(c.marks)).length)).toEqual(checks.map(() => 1));
  });

  it('is at most 450 lines, and links by absolute URLs, those into the package to files it carries', () => {
    const text = readFileSync(join(repo, 'README.md'), 'utf8');
    expect(text.split('\n').length).toBeLessThanOrEqual(450);
    const links = [...text.matchAll(/\]\(([^)]+)\)/g)].map((m) => m[1]);
    // The registry's page has no repository to resolve a relative link against.
    expect(links.filter((target) => !/^https:\/\//.test(target)), 'relative links').toEqual([]);
    const { name } = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8'));
    const prefix = `https://cdn.jsdelivr.net/npm/${name}/`;
    const inPackage = links.filter((target) => target.startsWith(prefix)).map((target) => target.slice(prefix.length));
    expect(inPackage.length).toBeGreaterThan(0);
    const packed = spawnSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: repo, encoding: 'utf8' });
    const files: string[] = JSON.parse(packed.stdout)[0].files.map((f: { path: string }) => f.path);
    const carried = (path: string) => (path.endsWith('/') ? files.some((f) => f.startsWith(path)) : files.includes(path));
    expect(inPackage.filter((path) => !carried(path)), 'links to files the package does not carry').toEqual([]);
  });

  for (const { marks, check } of checks) {
    it(`runs the block with ${marks}, and lives through clients that leave`, async () => {
      const index = blocks.findIndex((code) => code.includes(marks));
      expect(index, marks).toBeGreaterThanOrEqual(0);
      await check(index);
    });
  }
});
