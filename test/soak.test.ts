// The soak: many transfers over loopback, 32 and more at once, each with a
// random fault (none, the peer resetting or reading slowly, a local destroy
// at a random moment including before the file opened, an abort, the file
// truncated mid-way, a bad argument), on every backend, serveFile over
// HTTP keep-alive with clients that disconnect mid-response, and serveFile
// over HTTP/2 with clients that cancel streams or close their sessions at
// random moments. Every transfer
// that completed is checked byte for byte by its own peer, found by the
// client's port, never by order; every failed one left its peer a true
// prefix and rejected with the code its fault calls for.
//
// It is also a leak detector. A warm-up first takes RSS to its high-water
// marks (allocator arenas, JIT code, socket buffers); then the run goes in
// rounds, with a garbage collection after each, and the lowest RSS of the
// second half of the rounds must stay within a fixed allowance of the lowest
// of the first half: a leak grows with the work, a high-water mark does not.
// At the end the process holds exactly the descriptors it held after the
// warm-up. One summary line is printed.
//
// npm test runs a short version; `npm run soak` the long one
// (ZEROCOPY_SOAK_TRANSFERS, ZEROCOPY_SOAK_REQUESTS and ZEROCOPY_SOAK_CONCURRENCY
// set the sizes; ZEROCOPY_TEST_SEED replays a run).
import { createHash } from 'node:crypto';
import { copyFileSync, promises as fsp } from 'node:fs';
import * as http from 'node:http';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { capabilities, receiveFile, relay, sendFile, serveFile } from '../dist/cjs/index.js';
import { KiB, makeRng, MiB, pickSeed, seededBytes, sha256, type Rng } from './support/bytes.js';
import { openDescriptors } from './support/descriptors.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { listen, type Running } from './support/http.js';
import { tcpPair } from './support/pairs.js';
import { peerFault, SoakPeer } from './support/soak-peer.js';
import { eventually, sleep, within } from './support/waiting.js';

const TRANSFERS = Number(process.env.ZEROCOPY_SOAK_TRANSFERS ?? 1500);
const REQUESTS = Number(process.env.ZEROCOPY_SOAK_REQUESTS ?? 400);
const CONCURRENCY = Number(process.env.ZEROCOPY_SOAK_CONCURRENCY ?? 32);
const LONG = TRANSFERS > 5000;
const BACKENDS = ['auto', ...capabilities().backends];
/**
 * Work before the baseline: a quarter of the run (with a tenth, RSS went on
 * climbing through the first rounds), and enough that the short version
 * reaches its high-water marks too.
 */
const WARMUP_TRANSFERS = Math.max(Math.ceil(TRANSFERS / 4), Math.min(TRANSFERS, 1000));
const WARMUP_REQUESTS = Math.max(Math.ceil(REQUESTS / 4), Math.min(REQUESTS, 250));
/** The run is measured in this many rounds: RSS after each, once garbage is collected. */
const ROUNDS = 16;
/**
 * How far the RSS floor (lowest of the rounds) of the second half may lie
 * above that of the first: about half the run lies between the two, so a
 * leak of RSS_ALLOWANCE / (half the transfers) bytes per transfer fails.
 */
const RSS_ALLOWANCE = 8 * MiB;
// glibc gives a thread a new malloc arena when the ones there are contended,
// at a random moment of a run, and RSS then steps up by several MiB for
// good: a high-water mark that looks like growth. `npm run soak` caps them
// (MALLOC_ARENA_MAX, read when the process starts); the summary says so.
const ARENAS = process.env.MALLOC_ARENA_MAX ?? 'glibc default';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** RSS once garbage is collected; twice, so that what the first pass's finalizers freed goes too. */
async function settledRss(): Promise<number> {
  gc();
  await sleep(20);
  gc();
  return process.memoryUsage.rss();
}

let dir: TempDir;
let pool: { path: string; data: Buffer }[];
const seed = pickSeed();

beforeAll(() => {
  dir = makeTempDir('zerocopy-soak-');
  const sizes = [0, 1, 100, 4 * KiB, 64 * KiB + 3, 200 * KiB, 512 * KiB, MiB + 17, 3 * MiB];
  pool = sizes.map((size, i) => {
    const data = seededBytes(`soak-${seed}-${i}`, size);
    return { path: dir.write(data, `pool-${i}.bin`), data };
  });
});
afterAll(() => dir?.remove());

type Fault = 'none' | 'peer-reset' | 'slow-reader' | 'destroy-before-open' | 'destroy' | 'abort' | 'truncate' | 'bad-argument';

/** What each fault may reject with; 'none' and 'slow-reader' may not reject at all. */
const ALLOWED: Record<Fault, string[]> = {
  none: [],
  'slow-reader': [],
  'peer-reset': ['ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED'],
  'destroy-before-open': ['ERR_STREAM_DESTROYED'],
  destroy: ['ERR_STREAM_DESTROYED'],
  abort: ['ABORT_ERR'],
  truncate: ['ERR_FILE_TRUNCATED'],
  'bad-argument': ['ERR_INVALID_ARG_TYPE', 'ERR_INVALID_ARG_VALUE', 'ERR_OUT_OF_RANGE'],
};
const LOCAL_FAULTS: Fault[] = ['none', 'none', 'none', 'none', 'destroy-before-open', 'destroy', 'abort', 'truncate', 'bad-argument'];
const BAD_OPTIONS: unknown[] = [{ offset: -1 }, { count: 1.5 }, { headers: 5 }, { backend: 'splice' }, { signal: {} }, 'options', { trailers: [null] }];

interface Tally {
  transfers: number;
  completed: number;
  faults: Record<string, number>;
  byBackend: Record<string, number>;
  bytesVerified: number;
  problems: string[];
}

/** Schedules `act` at a random moment: at once, after a few event-loop turns, or a few milliseconds in. */
function atRandomMoment(rng: Rng, act: () => void): void {
  const when = rng.int(0, 3);
  if (when === 0) queueMicrotask(act);
  else if (when === 1) setImmediate(act);
  else setTimeout(act, rng.int(0, 12));
}

async function oneTransfer(peer: SoakPeer, rng: Rng, tally: Tally, index: number): Promise<void> {
  const socket = net.connect(peer.port, '127.0.0.1');
  socket.on('error', () => {});
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('close', () => reject(new Error('connection to the soak peer failed')));
  });
  const port = socket.localPort!;
  const reported = peer.report(port);
  const peerSide = peerFault(port, seed);
  const fault: Fault = peerSide.kind === 'reset' ? 'peer-reset' : peerSide.kind === 'slow' ? 'slow-reader' : rng.pick(LOCAL_FAULTS);
  const backend = rng.pick(BACKENDS);
  const source = rng.pick(pool);
  const offset = rng.int(0, source.data.length);
  const count = rng.bool(0.3) ? undefined : rng.int(0, source.data.length - offset);
  const headers = rng.bool(0.7) ? rng.bytes(rng.int(0, 400)) : undefined;
  const trailers = rng.bool(0.5) ? rng.bytes(rng.int(0, 200)) : undefined;
  const expected = Buffer.concat([headers ?? Buffer.alloc(0), source.data.subarray(offset, count === undefined ? undefined : offset + count), trailers ?? Buffer.alloc(0)]);
  let input = source.path;
  let truncatedTo: number | undefined;
  if (fault === 'truncate') {
    input = dir.file(`truncate-${index}.bin`);
    copyFileSync(source.path, input);
  }

  const controller = new AbortController();
  const options = fault === 'bad-argument' ? rng.pick(BAD_OPTIONS) : { offset, count, headers, trailers, backend, signal: controller.signal };
  const sending = sendFile(socket, input, options as never);
  if (fault === 'destroy-before-open') socket.destroy();
  if (fault === 'destroy') atRandomMoment(rng, () => socket.destroy());
  if (fault === 'abort') atRandomMoment(rng, () => controller.abort());
  if (fault === 'truncate') {
    truncatedTo = rng.int(0, source.data.length);
    atRandomMoment(rng, () => void fsp.truncate(input, truncatedTo).catch(() => {}));
  }
  const outcome = await sending.then(
    (r) => ({ ok: true as const, bytesSent: r.bytesSent }),
    (e: { code?: string; bytesSent?: number }) => ({ ok: false as const, code: e.code, bytesSent: e.bytesSent ?? 0 }),
  );
  if (!socket.destroyed) socket.end();
  const report = await within(reported, 30_000, `the peer's report for port ${port}`);
  if (fault === 'truncate') await fsp.rm(input, { force: true });

  tally.transfers++;
  tally.faults[fault] = (tally.faults[fault] ?? 0) + 1;
  tally.byBackend[backend] = (tally.byBackend[backend] ?? 0) + 1;
  const what = `#${index} port ${port} ${fault} ${backend} ${expected.length} bytes`;
  const problem = (text: string) => tally.problems.length < 20 && tally.problems.push(`${what}: ${text}`);
  if (report.port !== port) problem(`the report is for port ${report.port}`);

  // A path is opened after the call returns: a truncation that lands first
  // is the size the transfer sees, and all of the file as it then is goes.
  const asOpened =
    truncatedTo !== undefined && count === undefined
      ? Buffer.concat([headers ?? Buffer.alloc(0), source.data.subarray(offset, Math.max(offset, truncatedTo)), trailers ?? Buffer.alloc(0)])
      : undefined;
  const sawTruncatedSize = outcome.ok && asOpened !== undefined && outcome.bytesSent === asOpened.length && asOpened.length !== expected.length;
  if (sawTruncatedSize && (report.bytes !== asOpened.length || report.sha256 !== sha256(asOpened))) {
    problem(`sent the file as truncated before it opened, but the peer received ${report.bytes} other bytes`);
  }
  if (outcome.ok) {
    tally.completed++;
    if (outcome.bytesSent !== expected.length && !sawTruncatedSize) problem(`resolved with bytesSent ${outcome.bytesSent}`);
    if (fault === 'bad-argument') problem('a bad argument resolved');
  } else if (!ALLOWED[fault].includes(outcome.code ?? '')) {
    problem(`rejected with ${outcome.code}`);
  }
  // A complete, undisturbed transfer: every byte, exactly. Anything else: a
  // true prefix of what was due (after a truncation, up to the new end: a
  // zero-copy backend may have queued pages that now read as zeros).
  // (A zero-copy transfer can resolve with pages still queued in the socket:
  // truncated then, they too arrive as zeros.)
  const undisturbed = outcome.ok && fault !== 'truncate' && (fault === 'none' || fault === 'slow-reader' || report.how === 'end');
  if (undisturbed && (report.bytes !== expected.length || report.sha256 !== sha256(expected))) {
    problem(`the peer received ${report.bytes} bytes (${report.how}) that are not the ${expected.length} sent`);
  } else if (!undisturbed) {
    const trusted = truncatedTo === undefined ? report.bytes : Math.min(report.bytes, (headers?.length ?? 0) + Math.max(0, truncatedTo - offset));
    if (report.bytes > expected.length) problem(`the peer received ${report.bytes} bytes, more than the ${expected.length} due`);
    else if (trusted === report.bytes && report.sha256 !== sha256(expected.subarray(0, report.bytes))) problem(`the peer's ${report.bytes} bytes are not a prefix of what was due`);
  }
  if (fault === 'bad-argument' && report.bytes !== 0) problem(`a rejected call's peer received ${report.bytes} bytes`);
  if (truncatedTo === undefined || Math.min(report.bytes, (headers?.length ?? 0) + Math.max(0, truncatedTo - offset)) === report.bytes) tally.bytesVerified += report.bytes;
}

/** Runs work(from) ... work(to - 1), CONCURRENCY at a time. */
async function runPool(from: number, to: number, work: (index: number) => Promise<void>): Promise<void> {
  let next = from;
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (next < to) await work(next++);
    }),
  );
}

/** Where round `round` of `rounds` starts in a run of `total`: rounds differ in size by one at most. */
const roundStart = (total: number, round: number, rounds: number) => Math.floor((total * round) / rounds);

// ------------------------------------------------------------------ HTTP

/** Reads one HTTP/1.1 response with a Content-Length off a socket, hashing the body; `cut` destroys the socket once that many body bytes arrived. */
function readResponse(socket: net.Socket, cut?: number): Promise<{ status: number; length: number; sha256: string; cut: boolean } | undefined> {
  return new Promise((resolve) => {
    let head = Buffer.alloc(0);
    let status = 0;
    let length = -1;
    let got = 0;
    const hash = createHash('sha256');
    const done = (value: Parameters<typeof resolve>[0]) => {
      socket.removeListener('data', onData);
      socket.removeListener('close', onClose);
      socket.pause();
      resolve(value);
    };
    const body = (chunk: Buffer) => {
      const take = chunk.subarray(0, length - got);
      hash.update(take);
      got += take.length;
      if (cut !== undefined && got >= cut && got < length) {
        socket.destroy();
        return done({ status, length, sha256: '', cut: true });
      }
      if (got === length) done({ status, length, sha256: hash.digest('hex'), cut: false });
    };
    const onData = (chunk: Buffer) => {
      if (length >= 0) return body(chunk);
      head = Buffer.concat([head, chunk]);
      const end = head.indexOf('\r\n\r\n');
      if (end === -1) return;
      const text = head.subarray(0, end).toString('latin1');
      status = Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
      length = Number(/\r\ncontent-length: (\d+)/i.exec(text)?.[1] ?? 0);
      const rest = head.subarray(end + 4);
      if (length === 0) return done({ status, length, sha256: sha256(''), cut: false });
      if (rest.length) body(rest);
    };
    const onClose = () => done(undefined);
    socket.on('data', onData);
    socket.on('close', onClose);
    socket.resume();
  });
}

interface HttpTally {
  requests: number;
  completed: number;
  disconnects: number;
  bytesVerified: number;
  problems: string[];
}

async function httpClient(port: number, rng: Rng, tally: HttpTally, budget: () => boolean): Promise<void> {
  let socket: net.Socket | undefined;
  while (budget()) {
    if (!socket || socket.destroyed) {
      socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      await new Promise((resolve) => socket!.once('connect', resolve));
    }
    const index = rng.int(0, pool.length - 1);
    const file = pool[index];
    const disconnect = file.data.length > 1 && rng.bool(0.2);
    socket.write(`GET /${index} HTTP/1.1\r\nHost: soak\r\n\r\n`);
    tally.requests++;
    const response = await readResponse(socket, disconnect ? rng.int(1, file.data.length - 1) : undefined);
    const what = `GET /${index} (${file.data.length} bytes)`;
    if (disconnect) {
      tally.disconnects++;
      socket.destroy();
      continue;
    }
    if (!response) {
      if (tally.problems.length < 20) tally.problems.push(`${what}: the server closed the connection`);
      continue;
    }
    if (response.status !== 200 || response.length !== file.data.length || response.sha256 !== sha256(file.data)) {
      if (tally.problems.length < 20) tally.problems.push(`${what}: ${response.status}, ${response.length} bytes, not the file`);
      continue;
    }
    tally.completed++;
    tally.bytesVerified += response.length;
  }
  socket?.destroy();
}

interface H2Tally {
  requests: number;
  completed: number;
  cancelled: number;
  sessionsClosed: number;
  bytesVerified: number;
  problems: string[];
}

/**
 * An HTTP/2 client on one session (a new one when it closed its own): each
 * request reads its file whole and checks it, or cancels its stream
 * (RST_STREAM) after a random part of it, or closes the whole session once
 * the head has come.
 */
async function h2Client(url: string, rng: Rng, tally: H2Tally, budget: () => boolean): Promise<void> {
  let session: http2.ClientHttp2Session | undefined;
  while (budget()) {
    if (!session || session.destroyed || session.closed) {
      session = http2.connect(url);
      session.on('error', () => {});
    }
    const index = rng.int(0, pool.length - 1);
    const file = pool[index];
    const fate = file.data.length > 1 ? rng.pick(['read', 'read', 'read', 'cancel', 'cancel', 'close session'] as const) : 'read';
    const cut = rng.int(1, Math.max(1, file.data.length - 1));
    tally.requests++;
    const what = `h2 GET /${index} (${file.data.length} bytes)`;
    const s = session;
    const outcome = await new Promise<{ status: number; length: number; sha256: string } | 'cancelled' | 'failed'>((resolve) => {
      const stream = s.request({ ':path': `/${index}` });
      const hash = createHash('sha256');
      let status = 0;
      let length = 0;
      stream.on('response', (h) => {
        status = Number(h[':status']);
        if (fate === 'close session') {
          s.destroy();
          resolve('cancelled');
        }
      });
      stream.on('data', (c: Buffer) => {
        length += c.length;
        hash.update(c);
        if (fate === 'cancel' && length >= cut) {
          stream.close(http2.constants.NGHTTP2_CANCEL);
          resolve('cancelled');
        }
      });
      stream.on('end', () => resolve({ status, length, sha256: hash.digest('hex') }));
      stream.on('error', () => resolve(fate === 'read' ? 'failed' : 'cancelled'));
      stream.on('close', () => resolve(fate === 'read' ? 'failed' : 'cancelled'));
    });
    if (outcome === 'cancelled') {
      if (fate === 'close session') tally.sessionsClosed++;
      else tally.cancelled++;
      continue;
    }
    if (outcome === 'failed' || outcome.status !== 200 || outcome.length !== file.data.length || outcome.sha256 !== sha256(file.data)) {
      if (tally.problems.length < 20) tally.problems.push(`${what}: ${JSON.stringify(outcome)}, not the file`);
      continue;
    }
    tally.completed++;
    tally.bytesVerified += outcome.length;
  }
  session?.close();
}

/** The floor (lowest RSS) of the first and second half of the rounds. */
function floors(rss: number[]): { first: number; second: number } {
  const half = Math.floor(rss.length / 2);
  return { first: Math.min(...rss.slice(0, half)), second: Math.min(...rss.slice(half)) };
}

describe('soak', () => {
  it(`${TRANSFERS} transfers with random faults at ${CONCURRENCY} at once, ${REQUESTS} keep-alive requests with clients leaving mid-response and ${REQUESTS} HTTP/2 requests with clients cancelling, in ${ROUNDS} rounds after a warm-up`, { timeout: LONG ? 3_600_000 : 180_000 }, async () => {
    onTestFailed(() => console.error(`soak seed ${seed}: rerun with ZEROCOPY_TEST_SEED=${seed}`));
    const rng = makeRng(seed);
    const peer = await SoakPeer.start(seed);
    const tally: Tally = { transfers: 0, completed: 0, faults: {}, byBackend: {}, bytesVerified: 0, problems: [] };
    const httpTally: HttpTally = { requests: 0, completed: 0, disconnects: 0, bytesVerified: 0, problems: [] };
    const h2Tally: H2Tally = { requests: 0, completed: 0, cancelled: 0, sessionsClosed: 0, bytesVerified: 0, problems: [] };
    const serveOutcomes: Record<string, number> = {};
    let server: Running | undefined;
    let h2Server: Running | undefined;
    try {
      const serve = (req: http.IncomingMessage | http2.Http2ServerRequest, res: http.ServerResponse | http2.Http2ServerResponse) => {
        const file = pool[Number(req.url!.slice(1))];
        serveFile(req, res, file.path).then(
          () => (serveOutcomes.resolved = (serveOutcomes.resolved ?? 0) + 1),
          (e: { code?: string }) => (serveOutcomes[e.code ?? 'no code'] = (serveOutcomes[e.code ?? 'no code'] ?? 0) + 1),
        );
      };
      server = await listen(http.createServer({ keepAlive: true }, serve));
      h2Server = await listen(http2.createServer(serve) as unknown as net.Server);
      const port = server.port;
      const h2Url = h2Server.url;
      // Transfer indices name the truncated copies: the warm-up's come first.
      let index = 0;
      const transfers = (count: number, into: Tally) => runPool(index, (index += count), (i) => oneTransfer(peer, rng, into, i));
      const requests = (count: number, into: HttpTally) => {
        let issued = 0;
        const budget = () => issued++ < count;
        return Promise.all(Array.from({ length: 8 }, () => httpClient(port, rng, into, budget)));
      };
      // As many HTTP/2 requests as HTTP/1.1 ones, from four clients.
      const h2Requests = (count: number, into: H2Tally) => {
        let issued = 0;
        const budget = () => issued++ < count;
        return Promise.all(Array.from({ length: 4 }, () => h2Client(h2Url, rng, into, budget)));
      };

      // Warm-up: the addon's driver, the threadpool, JIT code, allocator
      // arenas, serveFile's open-file cache, so that the baseline is the
      // steady state. Its problems count; its figures do not.
      await Promise.all([
        transfers(WARMUP_TRANSFERS, { ...tally, faults: {}, byBackend: {}, problems: tally.problems }),
        requests(WARMUP_REQUESTS, { ...httpTally, problems: httpTally.problems }),
        h2Requests(WARMUP_REQUESTS, { ...h2Tally, problems: h2Tally.problems }),
      ]);
      const baselineRss = await settledRss();
      const baselineFds = openDescriptors();

      const rss: number[] = [];
      for (let round = 0; round < ROUNDS; round++) {
        await Promise.all([
          transfers(roundStart(TRANSFERS, round + 1, ROUNDS) - roundStart(TRANSFERS, round, ROUNDS), tally),
          requests(roundStart(REQUESTS, round + 1, ROUNDS) - roundStart(REQUESTS, round, ROUNDS), httpTally),
          h2Requests(roundStart(REQUESTS, round + 1, ROUNDS) - roundStart(REQUESTS, round, ROUNDS), h2Tally),
        ]);
        rss.push(await settledRss());
      }
      // Every serveFile call settles: it resolves, or its client left.
      const served = () => Object.values(serveOutcomes).reduce((a, b) => a + b, 0);
      const calls = 2 * WARMUP_REQUESTS + httpTally.requests + h2Tally.requests;
      await eventually(() => served() === calls, () => `serveFile calls settled: ${served()} of ${calls}`, 10_000);

      // Exactly the baseline's descriptors, but for serveFile's open-file
      // cache, which may have reopened a pool file (one descriptor per file).
      const cached = new Set(pool.map((f) => f.path));
      const differences = () => {
        const now = openDescriptors();
        const opened = [...now].filter(([fd, target]) => baselineFds.get(fd) !== target);
        const closed = [...baselineFds].filter(([fd, target]) => now.get(fd) !== target);
        const perFile = new Map<string, number>();
        for (const target of now.values()) if (cached.has(target)) perFile.set(target, (perFile.get(target) ?? 0) + 1);
        const unexplained = ([, target]: [number, string]) => !cached.has(target) || (perFile.get(target) ?? 0) > 1;
        return [...opened.filter(unexplained).map(([fd, t]) => `${fd} -> ${t} opened`), ...closed.filter(unexplained).map(([fd, t]) => `${fd} -> ${t} closed`)];
      };
      await eventually(() => differences().length === 0, () => `descriptors not as after the warm-up: ${differences().join(', ')}`, 10_000);
      const fds = openDescriptors().size;
      const held = [...openDescriptors().values()].filter((t) => cached.has(t)).length;
      await server.close();
      server = undefined;
      await h2Server.close();
      h2Server = undefined;

      const { first, second } = floors(rss);
      const half = roundStart(TRANSFERS, ROUNDS, ROUNDS) - roundStart(TRANSFERS, Math.floor(ROUNDS / 2), ROUNDS);
      const halfRequests = REQUESTS - roundStart(REQUESTS, Math.floor(ROUNDS / 2), ROUNDS);
      const faults = Object.entries(tally.faults).map(([k, v]) => `${k} ${v}`).join(', ');
      const mib = (n: number) => (n / MiB).toFixed(1);
      console.log(
        `soak (seed ${seed}): ${tally.transfers} transfers at ${CONCURRENCY} at once, ${tally.completed} completed; faults: ${faults}; ` +
          `backends: ${Object.entries(tally.byBackend).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
          `${mib(tally.bytesVerified)} MiB checked at the peers; http: ${httpTally.requests} requests, ${httpTally.completed} complete (${mib(httpTally.bytesVerified)} MiB checked), ${httpTally.disconnects} clients left mid-response, h2: ${h2Tally.requests} requests, ${h2Tally.completed} complete (${mib(h2Tally.bytesVerified)} MiB checked), ${h2Tally.cancelled} streams cancelled, ${h2Tally.sessionsClosed} sessions closed mid-response; serveFile outcomes ${JSON.stringify(serveOutcomes)}; ` +
          `after a warm-up of ${WARMUP_TRANSFERS} transfers and ${WARMUP_REQUESTS} requests: fds ${baselineFds.size} -> ${fds} (${held} held by serveFile's open-file cache), ` +
          `rss ${mib(baselineRss)} MiB, then over ${ROUNDS} rounds ${mib(Math.min(...rss))}..${mib(Math.max(...rss))} MiB, floor ${mib(first)} -> ${mib(second)} MiB (${second >= first ? '+' : ''}${mib(second - first)}, allowed +${mib(RSS_ALLOWANCE)}, malloc arenas ${ARENAS}: ` +
          `catches a leak of ${Math.ceil(RSS_ALLOWANCE / half)} B per transfer or ${Math.ceil(RSS_ALLOWANCE / halfRequests)} B per request); lost: ${tally.problems.length + httpTally.problems.length + h2Tally.problems.length}`,
      );
      expect(tally.problems).toEqual([]);
      expect(httpTally.problems).toEqual([]);
      expect(h2Tally.problems).toEqual([]);
      expect(tally.transfers).toBe(TRANSFERS);
      expect(Object.keys(serveOutcomes).filter((k) => !['resolved', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE'].includes(k))).toEqual([]);
      // (Under ASan, freed memory sits in quarantine: RSS says nothing there.)
      if (!process.env.ZEROCOPY_SANITIZED) {
        expect(second - first, `the RSS floor rose from ${mib(first)} to ${mib(second)} MiB between the halves of the run (${rss.map(mib).join(', ')})`).toBeLessThanOrEqual(RSS_ALLOWANCE);
      }
    } finally {
      await server?.close();
      await h2Server?.close();
      await peer.stop();
    }
  });
});

// ------------------------------------------------------------------ receive and relay
//
// The other two directions under the same regime: receives and relays at
// CONCURRENCY at once, each with a random fault (none, a peer that resets,
// a local destroy, an abort, a slow reader, a count mid-stream), on every
// backend; every byte checked at its far end (whole when undisturbed, a
// true prefix otherwise, the rest of a counted receive still readable on
// its socket); then the descriptors of the warm-up and an RSS floor that
// does not rise.

const FLOWS = Number(process.env.ZEROCOPY_SOAK_FLOWS ?? 600);
const WARMUP_FLOWS = Math.max(Math.ceil(FLOWS / 4), Math.min(FLOWS, 300));
type FlowFault = 'none' | 'reset' | 'destroy' | 'abort' | 'slow-reader' | 'count';
const FLOW_FAULTS: FlowFault[] = ['none', 'none', 'none', 'reset', 'destroy', 'abort', 'slow-reader', 'count'];
const FLOW_ALLOWED: Record<FlowFault, string[]> = {
  none: [],
  'slow-reader': [],
  count: [],
  reset: ['ECONNRESET', 'EPIPE', 'ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE'],
  destroy: ['ERR_STREAM_DESTROYED', 'ECONNRESET', 'EPIPE'],
  abort: ['ABORT_ERR'],
};

interface FlowTally {
  flows: number;
  completed: number;
  faults: Record<string, number>;
  byBackend: Record<string, number>;
  bytesVerified: number;
  problems: string[];
}

/** A connected loopback pair in this process, both ends half-open capable, the accepted one (near) paused on connect. */
async function flowPair(): Promise<{ near: net.Socket; far: net.Socket }> {
  const { server, client } = await tcpPair({ allowHalfOpen: true, pauseOnConnect: true });
  return { near: server, far: client };
}

/** What a socket receives until its end or close, read slowly with `slow` (one paused on connect is resumed). */
function gather(socket: net.Socket, slow = false): Promise<Buffer> {
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => {
    chunks.push(chunk);
    if (slow) {
      socket.pause();
      setTimeout(() => socket.resume(), 1);
    }
  });
  socket.resume();
  return new Promise((resolve) => {
    // A stream read to its end by a receive has said 'end' already.
    if (socket.readableEnded) resolve(Buffer.concat(chunks));
    socket.once('end', () => resolve(Buffer.concat(chunks)));
    socket.once('close', () => resolve(Buffer.concat(chunks)));
  });
}

async function oneRelay(rng: Rng, tally: FlowTally, fault: FlowFault, index: number): Promise<void> {
  const left = await flowPair();
  const right = await flowPair();
  const backend = rng.pick(['auto', ...capabilities().relay.backends]);
  const there = pool[rng.int(0, pool.length - 1)].data;
  const back = pool[rng.int(0, pool.length - 1)].data;
  const atRight = gather(right.near, fault === 'slow-reader');
  const atLeft = gather(left.far);
  const controller = new AbortController();
  const relaying = relay(left.near, right.far, { backend: backend as never, signal: controller.signal });
  // The peer that resets writes without ending: Node cannot reset a socket
  // whose end is on its way (libuv's EINVAL), and it would never close.
  const resets = fault === 'reset' ? rng.pick([left.far, right.near]) : undefined;
  if (resets === left.far) left.far.write(there);
  else left.far.end(there);
  if (resets === right.near) right.near.write(back);
  else right.near.end(back);
  if (resets) atRandomMoment(rng, () => resets.resetAndDestroy());
  if (fault === 'destroy') atRandomMoment(rng, () => rng.pick([left.near, right.far]).destroy());
  if (fault === 'abort') atRandomMoment(rng, () => controller.abort());
  const outcome = await relaying.then(
    (r) => ({ ok: true as const, aToB: r.aToB, bToA: r.bToA, code: undefined }),
    (e: { code?: string; aToB?: number; bToA?: number }) => ({ ok: false as const, aToB: e.aToB ?? 0, bToA: e.bToA ?? 0, code: e.code }),
  );
  const [gotRight, gotLeft] = await within(Promise.all([atRight, atLeft]), 30_000, `relay #${index} (${fault}, ${backend}, ${outcome.ok ? 'resolved' : outcome.code}; left.far ${left.far.destroyed ? 'destroyed' : left.far.readableEnded ? 'ended' : 'open'}, right.near ${right.near.destroyed ? 'destroyed' : right.near.readableEnded ? 'ended' : 'open'}; counts ${outcome.aToB}/${outcome.bToA} of ${there.length}/${back.length}; left.far read ${left.far.bytesRead} flowing ${left.far.readableFlowing} len ${left.far.readableLength}): its peers' ends`);
  for (const s of [left.far, right.near]) s.destroy();
  tally.flows++;
  tally.byBackend[`relay ${backend}`] = (tally.byBackend[`relay ${backend}`] ?? 0) + 1;
  const problem = (text: string) => tally.problems.length < 20 && tally.problems.push(`relay #${index} ${fault} ${backend} ${there.length}/${back.length} bytes: ${text}`);
  if (outcome.ok && fault === 'reset') {
    // A reset can read as an end of stream (and takes the resetting peer's
    // unsent bytes with it): resolved, what arrived is what was counted.
    // The peer that stayed got all that was counted toward it; the one that
    // reset, at most that.
    tally.completed++;
    const exact = resets === left.far ? outcome.aToB === gotRight.length && gotLeft.length <= outcome.bToA : outcome.bToA === gotLeft.length && gotRight.length <= outcome.aToB;
    if (!exact) problem(`resolved with counts ${outcome.aToB}, ${outcome.bToA}, the peers got ${gotRight.length} and ${gotLeft.length}`);
  } else if (outcome.ok) {
    tally.completed++;
    if (!gotRight.equals(there) || !gotLeft.equals(back)) problem(`resolved, but the peers got ${gotRight.length} and ${gotLeft.length} other bytes`);
    if (outcome.aToB !== there.length || outcome.bToA !== back.length) problem(`resolved with counts ${outcome.aToB}, ${outcome.bToA}`);
  } else if (!FLOW_ALLOWED[fault].includes(outcome.code ?? '')) {
    problem(`rejected with ${outcome.code}`);
  }
  if (!there.subarray(0, gotRight.length).equals(gotRight)) problem(`right got ${gotRight.length} bytes that are not a prefix`);
  if (!back.subarray(0, gotLeft.length).equals(gotLeft)) problem(`left got ${gotLeft.length} bytes that are not a prefix`);
  tally.bytesVerified += gotRight.length + gotLeft.length;
}

async function oneReceive(rng: Rng, tally: FlowTally, fault: FlowFault, index: number): Promise<void> {
  const { near, far } = await flowPair();
  const backend = rng.pick(['auto', ...capabilities().receive.backends]);
  const data = pool[rng.int(1, pool.length - 1)].data;
  const count = fault === 'count' ? rng.int(0, data.length) : undefined;
  const path = dir.file(`received-${index}.bin`);
  const controller = new AbortController();
  const receiving = receiveFile(near, path, { count, backend: backend as never, signal: controller.signal });
  if (fault === 'reset') {
    far.write(data);
    atRandomMoment(rng, () => far.resetAndDestroy());
  } else {
    far.end(data);
  }
  if (fault === 'destroy') atRandomMoment(rng, () => near.destroy());
  if (fault === 'abort') atRandomMoment(rng, () => controller.abort());
  const outcome = await receiving.then(
    (r) => ({ ok: true as const, bytes: r.bytesReceived, code: undefined }),
    (e: { code?: string; bytesReceived?: number }) => ({ ok: false as const, bytes: e.bytesReceived ?? 0, code: e.code }),
  );
  tally.flows++;
  tally.byBackend[`receive ${backend}`] = (tally.byBackend[`receive ${backend}`] ?? 0) + 1;
  const problem = (text: string) => tally.problems.length < 20 && tally.problems.push(`receive #${index} ${fault} ${backend} ${data.length} bytes: ${text}`);
  const written = await fsp.readFile(path).catch(() => Buffer.alloc(0));
  await fsp.rm(path, { force: true });
  if (written.length !== outcome.bytes) problem(`the file holds ${written.length} bytes, the outcome says ${outcome.bytes}`);
  if (!data.subarray(0, written.length).equals(written)) problem(`the file's ${written.length} bytes are not a prefix`);
  if (outcome.ok && fault === 'reset') {
    // Read as an end of stream: a true prefix, checked above.
    tally.completed++;
  } else if (outcome.ok) {
    tally.completed++;
    if (written.length !== (count ?? data.length)) problem(`resolved with ${written.length} bytes, not ${count ?? data.length}`);
    if (count !== undefined) {
      // The rest stays readable on the socket, and then its end.
      const rest = await within(gather(near), 30_000, `receive #${index}: the rest on the socket`);
      if (!rest.equals(data.subarray(count))) problem(`the socket's rest is ${rest.length} bytes, not the ${data.length - count} after the count`);
      tally.bytesVerified += rest.length;
    }
  } else if (!FLOW_ALLOWED[fault].includes(outcome.code ?? '') && !(fault === 'reset' && outcome.code === undefined)) {
    problem(`rejected with ${outcome.code}`);
  }
  tally.bytesVerified += written.length;
  near.destroy();
  far.destroy();
}

describe('soak of receiveFile and relay', () => {
  it(`${FLOWS} receives and relays with random faults at ${CONCURRENCY} at once, in ${ROUNDS} rounds after a warm-up`, { timeout: LONG ? 3_600_000 : 180_000 }, async () => {
    onTestFailed(() => console.error(`soak seed ${seed}: rerun with ZEROCOPY_TEST_SEED=${seed}`));
    const rng = makeRng(seed ^ 0x5eed);
    const tally: FlowTally = { flows: 0, completed: 0, faults: {}, byBackend: {}, bytesVerified: 0, problems: [] };
    const run = (count: number, into: FlowTally) => {
      let next = 0;
      return Promise.all(
        Array.from({ length: CONCURRENCY }, async () => {
          while (next < count) {
            const index = next++;
            const fault = rng.pick(FLOW_FAULTS);
            into.faults[fault] = (into.faults[fault] ?? 0) + 1;
            await (rng.bool() ? oneRelay(rng, into, fault, index) : oneReceive(rng, into, fault === 'slow-reader' ? 'none' : fault, index));
          }
        }),
      );
    };
    await run(WARMUP_FLOWS, { ...tally, faults: {}, byBackend: {}, problems: tally.problems });
    await sleep(100);
    const baselineFds = openDescriptors();
    const rss: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      await run(roundStart(FLOWS, round + 1, ROUNDS) - roundStart(FLOWS, round, ROUNDS), tally);
      rss.push(await settledRss());
    }
    const differences = () => {
      const now = openDescriptors();
      return [
        ...[...now].filter(([fd, t]) => baselineFds.get(fd) !== t).map(([fd, t]) => `${fd} -> ${t} opened`),
        ...[...baselineFds].filter(([fd, t]) => now.get(fd) !== t).map(([fd, t]) => `${fd} -> ${t} closed`),
      ];
    };
    await eventually(() => differences().length === 0, () => `descriptors not as after the warm-up: ${differences().join(', ')}`, 10_000);
    const { first, second } = floors(rss);
    const mib = (n: number) => (n / MiB).toFixed(1);
    console.log(
      `soak of receive and relay (seed ${seed}): ${tally.flows} at ${CONCURRENCY} at once, ${tally.completed} completed; faults: ${Object.entries(tally.faults).map(([k, v]) => `${k} ${v}`).join(', ')}; ` +
        `backends: ${Object.entries(tally.byBackend).map(([k, v]) => `${k} ${v}`).join(', ')}; ${mib(tally.bytesVerified)} MiB checked; ` +
        `descriptors as after a warm-up of ${WARMUP_FLOWS} (${baselineFds.size}); rss floor ${mib(first)} -> ${mib(second)} MiB over ${ROUNDS} rounds (allowed +${mib(RSS_ALLOWANCE)}); lost: ${tally.problems.length}`,
    );
    expect(tally.problems).toEqual([]);
    expect(tally.flows).toBe(FLOWS);
    if (!process.env.ZEROCOPY_SANITIZED) expect(second - first, `the RSS floor rose between the halves of the run (${rss.map(mib).join(', ')})`).toBeLessThanOrEqual(RSS_ALLOWANCE);
  });
});
