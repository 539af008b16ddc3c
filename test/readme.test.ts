// Every JavaScript block of the README, run as a user would run it: copied
// into a folder of its own with the files the examples name (a `public`
// folder, a `reports` folder, a `big.iso`) and `require('zerocopy')`
// resolving to this package, then started with Node. A block that starts a
// server is asked what it promises to answer; one that does not must exit
// cleanly. A block without a check here, or a check that matches no block,
// fails the test: the README cannot grow an example that does not run.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { connect } from 'node:net';
import { join } from 'node:path';
import { brotliCompressSync } from 'node:zlib';
import { parse as parseDisposition } from 'content-disposition';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from './support/files.js';
import { rawExchange, rawRequest, type ParsedResponse } from './support/http.js';
import { exited, waitForLine } from './support/processes.js';
import { within } from './support/waiting.js';

const repo = join(__dirname, '..');
const blocks = [...readFileSync(join(repo, 'README.md'), 'utf8').matchAll(/^```js\n([\s\S]*?)^```$/gm)].map((m) => m[1]);

let dir: TempDir;
const bigIso = randomBytes(2 * 1024 * 1024 + 7);
const children: ChildProcess[] = [];

beforeAll(() => {
  dir = makeTempDir('zerocopy-readme-');
  mkdirSync(join(dir.path, 'public'));
  mkdirSync(join(dir.path, 'reports'));
  mkdirSync(join(dir.path, 'node_modules'));
  writeFileSync(join(dir.path, 'big.iso'), bigIso);
  writeFileSync(join(dir.path, 'public', 'index.html'), '<title>home</title>\n');
  writeFileSync(join(dir.path, 'public', 'hello.txt'), 'hello\n');
  writeFileSync(join(dir.path, 'public', 'about.html'), '<title>about</title>\n');
  writeFileSync(join(dir.path, 'public', 'app.js'), 'console.log("app");\n');
  writeFileSync(join(dir.path, 'public', 'app.js.br'), brotliCompressSync('console.log("app");\n'));
  writeFileSync(join(dir.path, 'reports', 'q1.csv'), 'quarter,total\nq1,42\n');
  // `require('zerocopy')` is this package; the frameworks are its dev dependencies.
  symlinkSync(repo, join(dir.path, 'node_modules', 'zerocopy'));
  for (const name of ['express', 'fastify', 'koa']) symlinkSync(join(repo, 'node_modules', name), join(dir.path, 'node_modules', name));
});

afterEach(() => {
  for (const child of children.splice(0)) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
});
afterAll(() => dir?.remove());

/** Starts block `index` in the folder with its files, as a module when it imports. */
function start(index: number): ChildProcess {
  const code = blocks[index];
  const file = join(dir.path, `block-${index}.${/^import /m.test(code) ? 'mjs' : 'js'}`);
  writeFileSync(file, code);
  const child = spawn(process.execPath, ['--require', join(__dirname, 'support', 'listen-anywhere.js'), file], {
    cwd: dir.path,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(child);
  return child;
}

/** Starts a block that serves, and resolves with the port it listens on. */
async function serving(index: number): Promise<number> {
  const child = start(index);
  let stderr = '';
  child.stderr!.on('data', (c) => (stderr += c));
  const match = await within(waitForLine(child, /^LISTENING (\d+)$/), 10_000, `README block ${index} to listen`).catch((error) => {
    throw new Error(`${error.message}\n${stderr}`);
  });
  return Number(match[1]);
}

async function get(port: number, path: string, headers: Record<string, string> = {}): Promise<ParsedResponse> {
  return (await rawExchange(port, rawRequest(path, headers), 1)).responses[0];
}

const filename = (r: ParsedResponse) => parseDisposition(r.headers['content-disposition']).parameters.filename;

/** What each block promises, found by a line of it. */
const checks: { marks: string; check: (index: number) => Promise<void> }[] = [
  {
    marks: "sendFile(socket, './big.iso'",
    async check(index) {
      const port = await serving(index);
      const socket = connect(port, '127.0.0.1');
      const chunks: Buffer[] = [];
      socket.on('data', (c) => chunks.push(c));
      await within(once(socket, 'end'), 10_000, 'the net example to end its socket');
      expect(Buffer.concat(chunks).equals(Buffer.concat([Buffer.from('SIZE ...\n'), bigIso, Buffer.from('\nDONE\n')]))).toBe(true);
      socket.destroy();
    },
  },
  {
    marks: 'await sendFile(res.socket',
    async check(index) {
      const r = await get(await serving(index), '/');
      expect([r.status, r.headers['content-length']]).toEqual([200, String(bigIso.length)]);
      expect(r.body.equals(bigIso)).toBe(true);
    },
  },
  {
    marks: 'console.log(capabilities())',
    async check(index) {
      const run = await exited(start(index));
      expect([run.code, run.stderr]).toEqual([0, '']);
      expect(run.stdout).toContain(`platform: '${process.platform}'`);
    },
  },
  {
    marks: "serveStatic('./public', { maxAge: '1h', precompressed: true })",
    async check(index) {
      const port = await serving(index);
      const download = await get(port, '/download');
      expect([download.status, filename(download)]).toEqual([200, 'big.iso']);
      expect(download.body.equals(bigIso)).toBe(true);
      const hello = await get(port, '/hello.txt');
      expect([hello.body.toString(), hello.headers['cache-control']]).toEqual(['hello\n', 'public, max-age=3600']);
      expect((await get(port, '/app.js', { 'Accept-Encoding': 'br' })).headers['content-encoding']).toBe('br');
    },
  },
  {
    marks: "app.get('/reports/:name'",
    async check(index) {
      const port = await serving(index);
      expect((await get(port, '/static/about')).body.toString()).toBe('<title>about</title>\n');
      const report = await get(port, '/reports/q1.csv');
      expect([report.status, filename(report), report.body.toString()]).toEqual([200, 'q1.csv', 'quarter,total\nq1,42\n']);
      expect((await get(port, '/reports/%2e%2e%2fbig.iso')).status).toBe(403);
    },
  },
  {
    marks: 'fastify.register(fastifyServeStatic',
    async check(index) {
      const port = await serving(index);
      expect((await get(port, '/static/hello.txt')).body.toString()).toBe('hello\n');
      const greeting = await get(port, '/greeting');
      expect([greeting.status, filename(greeting), greeting.body.toString()]).toEqual([200, 'greeting.txt', 'hello\n']);
      const missing = await get(port, '/no/such/page');
      expect([missing.status, missing.body.toString()]).toEqual([404, '<title>home</title>\n']);
    },
  },
  {
    marks: 'app.use(koaServeStatic(',
    async check(index) {
      const port = await serving(index);
      const download = await get(port, '/download', { Range: 'bytes=-5' });
      expect([download.status, filename(download)]).toEqual([206, 'big.iso']);
      expect(download.body.equals(bigIso.subarray(-5))).toBe(true);
      const hello = await get(port, '/hello.txt');
      expect([hello.body.toString(), hello.headers['cache-control']]).toEqual(['hello\n', 'public, max-age=86400']);
      expect((await get(port, '/missing.txt')).status).toBe(404);
    },
  },
  {
    marks: 'http2.createServer(files)',
    async check(index) {
      const port = await serving(index);
      const client = http2.connect(`http://127.0.0.1:${port}`);
      try {
        const stream = client.request({ ':path': '/hello.txt' });
        const chunks: Buffer[] = [];
        stream.on('data', (c) => chunks.push(c));
        const [headers] = await within(once(stream, 'response'), 10_000, 'the HTTP/2 example to answer');
        await once(stream, 'end');
        expect([headers[':status'], Buffer.concat(chunks).toString()]).toEqual([200, 'hello\n']);
      } finally {
        client.close();
      }
    },
  },
  {
    marks: "new URL('./public/', import.meta.url)",
    async check(index) {
      const port = await serving(index);
      expect((await get(port, '/some/client/route')).body.toString()).toBe('<title>home</title>\n');
      expect((await get(port, '/hello.txt')).body.toString()).toBe('hello\n');
      expect((await get(port, '/missing.css')).status).toBe(404);
    },
  },
];

describe('README', () => {
  it('has a check for each JavaScript block, and each check its block', () => {
    const owners = blocks.map((code) => checks.filter((c) => code.includes(c.marks)).length);
    expect(owners, 'checks per README block').toEqual(blocks.map(() => 1));
    expect(checks.map((c) => blocks.filter((code) => code.includes(c.marks)).length)).toEqual(checks.map(() => 1));
  });

  for (const { marks, check } of checks) {
    it(`runs the block with ${marks}`, async () => {
      const index = blocks.findIndex((code) => code.includes(marks));
      expect(index, marks).toBeGreaterThanOrEqual(0);
      await check(index);
    });
  }
});
