// Hostile HTTP/2 clients: streams cancelled (RST_STREAM) or whole sessions
// closed at random moments of a 16 MiB download, hundreds of times, against
// serveStatic and serveFile in a server process of their own (h2c and TLS,
// with and without HTTP/1.1 beside it, with and without the open-file cache).
// The server must live through all of it, go on answering byte for byte,
// and hold no descriptor more than before. And a file truncated while an
// HTTP/2 client is paused must end in a reset stream and a rejection, never
// in a clean end of stream that passes short bytes off as the whole file.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, truncateSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveFile, type ServeResult } from '../dist/cjs/index.js';
import { MiB } from './support/bytes.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { listen } from './support/http.js';
import { findCommand, waitForLine } from './support/processes.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { eventually, sleep, within } from './support/waiting.js';

const BIG = 16 * MiB;
let dir: TempDir;
let bigHash: string;
let certificate: { key: Buffer; cert: Buffer } | undefined;

beforeAll(async () => {
  dir = makeTempDir('zerocopy-h2-hostile-');
  const big = Buffer.alloc(BIG);
  for (let i = 0; i < BIG; i += 4) big.writeUInt32LE(i, i);
  writeFileSync(dir.file('big.bin'), big);
  bigHash = createHash('sha256').update(big).digest('hex');
  if (findCommand('openssl')) certificate = await makeSelfSignedCertificate(dir.path);
});

afterAll(() => dir?.remove());

/** A small seeded generator (mulberry32): a failing run can be told by its seed. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface ServerProcess {
  child: ChildProcess;
  port: number;
  /** Its open descriptors, counted in /proc. */
  descriptors(): number;
  alive(): boolean;
  stop(): void;
}

async function startServer(options: { tls?: boolean; allowHTTP1?: boolean; cache?: boolean }): Promise<ServerProcess> {
  const config = { root: dir.path, ...options, ...(options.tls ? { key: certificate!.key.toString(), cert: certificate!.cert.toString() } : {}) };
  const child = spawn(process.execPath, [join(__dirname, 'support', 'h2-server-program.js'), JSON.stringify(config)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const [, port] = await within(waitForLine(child, /^listening (\d+)/), 10_000, 'the HTTP/2 server to listen');
  return {
    child,
    port: Number(port),
    descriptors: () => readdirSync(`/proc/${child.pid}/fd`).length,
    alive: () => child.exitCode === null && child.signalCode === null,
    stop: () => child.stdin!.end(),
  };
}

function connect(server: ServerProcess, tls: boolean): http2.ClientHttp2Session {
  const session = tls ? http2.connect(`https://127.0.0.1:${server.port}`, { ca: certificate!.cert }) : http2.connect(`http://127.0.0.1:${server.port}`);
  session.on('error', () => {});
  return session;
}

/** A whole download: status and the SHA-256 of the body. */
function download(session: http2.ClientHttp2Session, path: string): Promise<{ status: number; length: number; hash: string }> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path });
    const hash = createHash('sha256');
    let status = 0;
    let length = 0;
    stream.on('response', (h) => (status = Number(h[':status'])));
    stream.on('data', (c: Buffer) => {
      length += c.length;
      hash.update(c);
    });
    stream.on('end', () => resolve({ status, length, hash: hash.digest('hex') }));
    stream.on('error', reject);
  });
}

type Cancel = 'at the head' | 'mid-body' | 'session at the head';

/**
 * One download cancelled as `how` says: its stream reset (RST_STREAM
 * CANCEL) when the head arrives or after 0-30 ms of body, or its whole
 * session closed when the head arrives. Resolves when the stream has closed.
 */
function cancelled(session: http2.ClientHttp2Session, path: string, how: Cancel, next: () => number): Promise<void> {
  return new Promise((resolve) => {
    const stream = session.request({ ':path': path });
    stream.on('error', () => {});
    stream.on('close', () => resolve());
    stream.resume();
    stream.once('response', () => {
      if (how === 'at the head') stream.close(http2.constants.NGHTTP2_CANCEL);
      else if (how === 'session at the head') session.destroy();
      else setTimeout(() => stream.close(http2.constants.NGHTTP2_CANCEL), Math.floor(next() * 30));
    });
  });
}

const CONFIGS = [
  { name: 'h2c', tls: false, cache: true },
  { name: 'h2c without the cache', tls: false, cache: false },
  { name: 'TLS', tls: true, cache: true },
  { name: 'TLS with allowHTTP1', tls: true, allowHTTP1: true, cache: true },
];

describe.each(CONFIGS)('HTTP/2 clients that cancel downloads ($name)', (config) => {
  it('leave the server alive, answering byte for byte, holding no descriptor more', async (context) => {
    if (config.tls && !certificate) return context.skip();
    const seed = Date.now() >>> 0;
    const next = random(seed);
    const server = await startServer(config);
    try {
      const warm = connect(server, config.tls);
      for (const path of ['/big.bin', '/file/big.bin']) expect(await download(warm, path)).toEqual({ status: 200, length: BIG, hash: bigHash });
      warm.close();
      await sleep(50);
      const baseline = server.descriptors();
      // 300 cancels: eight streams at a time on one session, or a session of its own for each that closes it.
      let session = connect(server, config.tls);
      for (let round = 0; round < 300 / 8 && server.alive(); round++) {
        const cancels: Promise<void>[] = [];
        for (let i = 0; i < 8; i++) {
          const path = next() < 0.5 ? '/big.bin' : '/file/big.bin';
          const how: Cancel = (['at the head', 'mid-body', 'session at the head'] as const)[Math.floor(next() * 3)];
          cancels.push(how === 'session at the head' ? cancelled(connect(server, config.tls), path, how, next) : cancelled(session, path, how, next));
        }
        await within(Promise.all(cancels), 10_000, `round ${round} of cancels (seed ${seed})`);
        if (session.destroyed || session.closed) session = connect(server, config.tls);
      }
      session.destroy();
      expect({ seed, exitCode: server.child.exitCode, signal: server.child.signalCode }).toEqual({ seed, exitCode: null, signal: null });
      const after = connect(server, config.tls);
      for (const path of ['/big.bin', '/file/big.bin']) expect(await download(after, path)).toEqual({ status: 200, length: BIG, hash: bigHash });
      after.close();
      await eventually(() => server.descriptors() <= baseline, () => `the server's descriptors back to ${baseline} (now ${server.descriptors()}, seed ${seed})`);
    } finally {
      server.stop();
    }
  });
});

describe('a file truncated under a paused HTTP/2 client', () => {
  it('ends in a reset stream and ERR_FILE_TRUNCATED, not a clean end after short bytes', async () => {
    const path = dir.file('shrinking.bin');
    writeFileSync(path, Buffer.alloc(32 * MiB, 7));
    const outcomes: { result?: ServeResult; error?: Error & { code?: string } }[] = [];
    const h2 = http2.createServer((req, res) => {
      const outcome: (typeof outcomes)[number] = {};
      outcomes.push(outcome);
      serveFile(req, res, path, { cache: false }).then(
        (r) => (outcome.result = r),
        (e) => (outcome.error = e),
      );
    });
    const running = await listen(h2 as unknown as import('node:net').Server);
    const session = http2.connect(running.url);
    try {
      const stream = session.request({ ':path': '/' });
      let received = 0;
      let endedCleanly = false;
      let rst: number | undefined;
      stream.on('data', (c: Buffer) => {
        received += c.length;
        stream.pause();
      });
      stream.on('end', () => (endedCleanly = true));
      stream.on('error', () => {});
      const closed = new Promise<void>((resolve) => stream.on('close', () => ((rst = stream.rstCode), resolve())));
      await eventually(() => received > 0, 'the first bytes of the body');
      truncateSync(path, MiB);
      stream.resume();
      stream.on('data', () => stream.resume());
      await within(closed, 10_000, 'the stream to close');
      await eventually(() => outcomes[0]?.result !== undefined || outcomes[0]?.error !== undefined, 'serveFile to settle');
      expect({ endedCleanly, reset: rst !== http2.constants.NGHTTP2_NO_ERROR, atMost: received <= MiB }).toEqual({ endedCleanly: false, reset: true, atMost: true });
      expect(outcomes[0].error?.code, JSON.stringify(outcomes[0].result)).toBe('ERR_FILE_TRUNCATED');
    } finally {
      session.destroy();
      await running.close();
    }
  });
});
