// Property tests (fast-check): sendFile's arguments against a model of
// what each one must do, and HTTP requests to serveFile and serveStatic
// against a small model of RFC 9110 written here, independently of
// src/http/rfc9110.ts. A failure prints fast-check's seed and the shrunk
// case; FC_SEED=<seed> replays it (FC_RUNS raises the number of runs).
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, mkdirSync, openSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, receiveFile, relay, sendFile, serveFile, serveStatic } from '../dist/cjs/index.js';
import { unusedDescriptorNumber } from './support/descriptors.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { httpServer, partsOf, rawExchange, type Running } from './support/http.js';
import { startCollector, type Collector } from './support/sockets.js';

const BACKENDS = capabilities().backends;
const RUNS = Number(process.env.FC_RUNS ?? 150);
const SEED = process.env.FC_SEED === undefined ? undefined : Number(process.env.FC_SEED);
const settings = (numRuns = RUNS) => ({ numRuns, seed: SEED, endOnFailure: false });

let dir: TempDir;
beforeAll(() => {
  dir = makeTempDir('zerocopy-props-');
});
afterAll(() => dir?.remove());

// ------------------------------------------------------------ sendFile's arguments

/** What the model says a call must do: send these bytes, or reject with this class and code having sent nothing. */
type Expected = { ok: true; bytes: Buffer } | { ok: false; class: string; code: string };

const MAX_OFFSET = 2n ** 63n - 1n;

const reject = (cls: string, code: string): Expected => ({ ok: false, class: cls, code });
const argType = reject('TypeError', 'ERR_INVALID_ARG_TYPE');
const argValue = reject('TypeError', 'ERR_INVALID_ARG_VALUE');
const outOfRange = reject('RangeError', 'ERR_OUT_OF_RANGE');

/** A size option as the README documents it: a safe non-negative integer, or a bigint below 2^63. */
function modelSize(value: unknown): bigint | Expected | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'number') return Number.isSafeInteger(value) && value >= 0 ? BigInt(value) : outOfRange;
  if (typeof value === 'bigint') return value >= 0n && value <= MAX_OFFSET ? value : outOfRange;
  return argType;
}

/** Headers or trailers: a string, an ArrayBufferView, or an array of them; their bytes. */
function modelChunks(value: unknown): Buffer | Expected {
  if (value === undefined || value === null) return Buffer.alloc(0);
  const one = (c: unknown): Buffer | undefined =>
    typeof c === 'string' ? Buffer.from(c, 'utf8') : ArrayBuffer.isView(c) ? Buffer.from(c.buffer, c.byteOffset, c.byteLength) : undefined;
  const list = Array.isArray(value) ? value.map(one) : [one(value)];
  return list.every((b) => b !== undefined) ? Buffer.concat(list as Buffer[]) : argType;
}

const isExpected = (v: unknown): v is Expected => typeof v === 'object' && v !== null && 'ok' in v;

function isOpenDescriptor(n: number): boolean {
  try {
    fstatSync(n);
    return true;
  } catch {
    return false;
  }
}

/**
 * The model: the first bad argument, in the order the README lists them,
 * decides the rejection; past the arguments, the signal, the input, the
 * file's size at the call and then the output decide.
 */
function model(out: unknown, input: unknown, options: unknown, file: { bytes: Buffer; path: string; fd: number }, socket: Socket): Expected {
  let outIsClosedFd = false;
  if (typeof out === 'number') {
    if (!(Number.isInteger(out) && out >= 0 && out <= 0x7fffffff)) return outOfRange;
    outIsClosedFd = true; // the tests pass only numbers that are not open
  } else if (out !== socket) {
    return argType;
  }
  if (typeof input === 'number') {
    if (!(Number.isInteger(input) && input >= 0 && input <= 0x7fffffff)) return outOfRange;
  } else if (typeof input !== 'string' && !(input instanceof URL)) {
    return argType;
  } else if (input === '' || String(input).includes('\0') || (input instanceof URL && input.protocol !== 'file:')) {
    return argValue;
  }
  if (options !== undefined && options !== null && typeof options !== 'object') return argType;
  const o = (options ?? {}) as Record<string, unknown>;
  const offset = modelSize(o.offset);
  if (isExpected(offset)) return offset;
  const count = modelSize(o.count);
  if (isExpected(count)) return count;
  if (count !== undefined && (offset ?? 0n) + count > MAX_OFFSET) return outOfRange;
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) return argType;
  // null asks for the default, as for headers and trailers.
  const backend = o.backend ?? 'auto';
  if (typeof backend !== 'string') return argType;
  if (backend !== 'auto' && !(BACKENDS as readonly string[]).includes(backend)) return argValue;
  if (o.onProgress !== undefined && typeof o.onProgress !== 'function') return argType;
  if (typeof (o.lease ?? false) !== 'boolean') return argType;
  const headers = modelChunks(o.headers);
  if (isExpected(headers)) return headers;
  const trailers = modelChunks(o.trailers);
  if (isExpected(trailers)) return trailers;
  if ((o.signal as AbortSignal | undefined)?.aborted) return reject('AbortError', 'ABORT_ERR');
  const isOurFile = input === file.fd || input === file.path || (input instanceof URL && input.pathname === file.path);
  if (!isOurFile) return reject('Error', typeof input === 'number' ? 'EBADF' : 'ENOENT');
  const size = BigInt(file.bytes.length);
  const start = offset ?? 0n;
  const length = count ?? (size > start ? size - start : 0n);
  if (start + length > size) return reject('Error', 'ERR_FILE_TRUNCATED');
  if (outIsClosedFd) return reject('Error', 'EBADF');
  return { ok: true, bytes: Buffer.concat([headers, file.bytes.subarray(Number(start), Number(start + length)), trailers]) };
}

/** Any value at all, or one from near the edge of what a field accepts. */
function field(...near: fc.Arbitrary<unknown>[]): fc.Arbitrary<unknown> {
  return fc.oneof({ arbitrary: fc.constant(undefined), weight: 3 }, { arbitrary: fc.anything(), weight: 1 }, ...near.map((arbitrary) => ({ arbitrary, weight: 3 })));
}

const sizeArb = (fileSize: number) =>
  field(
    fc.integer({ min: 0, max: fileSize + 10 }),
    fc.bigInt({ min: 0n, max: BigInt(fileSize + 10) }),
    fc.constantFrom(-1, 1.5, NaN, Infinity, 2 ** 53, -1n, 2n ** 63n, 2n ** 63n - 1n, '1', null),
  );

const chunkArb = fc.oneof(
  fc.string({ maxLength: 20, unit: 'binary' }),
  fc.uint8Array({ maxLength: 40 }),
  fc.uint8Array({ minLength: 8, maxLength: 40 }).map((a) => new DataView(a.buffer, 3, 4)),
  fc.constantFrom(5, null, {}, new ArrayBuffer(3)),
);
const chunksArb = field(chunkArb, fc.array(chunkArb, { maxLength: 4 }));

describe('property: any sendFile arguments either work exactly or reject with the documented class and code, sending nothing', () => {
  let collector: Collector;
  let file: Buffer;
  let filePath: string;
  let fileFd: number;
  beforeAll(async () => {
    collector = await startCollector();
    file = randomBytes(3000);
    filePath = dir.write(file, 'content.bin');
    fileFd = openSync(filePath, 'r');
  });
  afterAll(async () => {
    closeSync(fileFd);
    await collector?.close();
  });

  it('on every backend', async () => {
    const aborted = AbortSignal.abort();
    const optionsArb = fc.oneof(
      { arbitrary: fc.record(
        {
          offset: sizeArb(3000),
          count: sizeArb(3000),
          headers: chunksArb,
          trailers: chunksArb,
          signal: field(fc.constant(new AbortController().signal), fc.constant(aborted), fc.constant({ aborted: false })),
          backend: field(fc.constantFrom('auto', ...BACKENDS), fc.constantFrom('SENDFILE', 'splice', '')),
          onProgress: field(fc.constant(() => {}), fc.constant('f')),
          lease: field(fc.boolean(), fc.constant('yes')),
        },
        { requiredKeys: [] },
      ), weight: 8 },
      { arbitrary: fc.anything(), weight: 1 },
    );
    const inputArb = fc.oneof(
      { arbitrary: fc.constantFrom('path', 'missing', 'fd', 'url'), weight: 6 },
      { arbitrary: fc.constantFrom('', 'a\0b', -1, 0.5, 2 ** 31, 'http-url', 'unused-fd'), weight: 2 },
      { arbitrary: fc.anything(), weight: 1 },
    );
    const outArb = fc.oneof(
      { arbitrary: fc.constant('socket'), weight: 8 },
      { arbitrary: fc.constantFrom(-1, 1.5, NaN, 'unused-fd', '/dev/stdout', null, 2n), weight: 1 },
      { arbitrary: fc.anything().filter((v) => typeof v !== 'number'), weight: 1 },
    );
    await fc.assert(
      fc.asyncProperty(outArb, inputArb, optionsArb, async (outSpec, inputSpec, options) => {
        const { socket, received } = await collector.connect();
        try {
          const out = outSpec === 'socket' ? socket : outSpec === 'unused-fd' ? unusedDescriptorNumber() : outSpec;
          const inputs: Record<string, unknown> = {
            path: filePath,
            missing: join(dir.path, 'missing.bin'),
            fd: fileFd,
            'unused-fd': unusedDescriptorNumber(),
            url: new URL(`file://${filePath}`),
            'http-url': new URL('http://example.com/'),
          };
          const picked = typeof inputSpec === 'string' && inputSpec in inputs ? inputs[inputSpec] : inputSpec;
          // A number that names another open descriptor of this process (its
          // standard input, a pipe of the runner's: what they are depends on
          // how the tests were started) would be read from; the model knows
          // our file and numbers that are not open, so it gets one of those.
          const input = typeof picked === 'number' && picked !== fileFd && isOpenDescriptor(picked) ? unusedDescriptorNumber() : picked;
          const expected = model(out, input, options, { bytes: file, path: filePath, fd: fileFd }, socket);
          const call = sendFile(out as never, input as never, options as never);
          const outcome = await call.then(
            (r) => ({ ok: true as const, result: r as { bytesSent: number } }),
            (e: Error & { code?: string; bytesSent?: number }) => ({ ok: false as const, error: e }),
          );
          socket.end();
          const { data } = await received;
          if (expected.ok) {
            expect(outcome.ok ? 'resolved' : `${outcome.error.name}: ${outcome.error.code}: ${outcome.error.message}`).toBe('resolved');
            expect(data.equals(expected.bytes), 'the bytes the peer received').toBe(true);
          } else {
            expect(outcome.ok ? 'resolved' : `${outcome.error.constructor.name} ${outcome.error.code}`).toBe(`${expected.class} ${expected.code}`);
            expect(data.length, 'bytes the peer received from a rejected call').toBe(0);
          }
        } finally {
          socket.destroy();
        }
      }),
      settings(),
    );
  });
});

// ------------------------------------------------------------ HTTP against a model of RFC 9110

interface Representation {
  size: number;
  etag: string;
  lastModified: string;
}

/** A request's conditional and range headers: what the generators vary. */
type Headers = Record<string, string>;

type ModelAnswer =
  | { status: 304 | 412 | 405 }
  | { status: 200 }
  | { status: 206; ranges: [number, number][] }
  | { status: 416 }
  /** Syntactically invalid ranges: RFC 9110 lets the server ignore them (200) or refuse them (416). */
  | { status: 'ignored-or-416' };

const weak = (tag: string) => tag.startsWith('W/');
const opaque = (tag: string) => (weak(tag) ? tag.slice(2) : tag);
const tags = (value: string) => value.split(',').map((t) => t.trim()).filter(Boolean);
const date = (value: string | undefined) => {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
};

/** §14.1.1 range-set parsing, strictly: undefined when the header is not a valid bytes range-set. */
function parseRangeSet(value: string, size: number): { satisfiable: [number, number][] } | undefined {
  const m = /^bytes=(.*)$/.exec(value);
  if (!m) return undefined;
  const satisfiable: [number, number][] = [];
  // §5.6.1.2: optional whitespace around list elements.
  for (const spec of m[1].split(',').map((s) => s.trim())) {
    let r: RegExpExecArray | null;
    if ((r = /^(\d+)-(\d*)$/.exec(spec))) {
      const first = Number(r[1]);
      const last = r[2] === '' ? Infinity : Number(r[2]);
      // §14.1.1 calls it invalid; serving treats it as unsatisfiable (416 when it is the only one).
      if (first < size && first <= last) satisfiable.push([first, Math.min(last, size - 1)]);
    } else if ((r = /^-(\d+)$/.exec(spec))) {
      const n = Number(r[1]);
      if (n > 0 && size > 0) satisfiable.push([Math.max(0, size - n), size - 1]);
    } else {
      return undefined;
    }
  }
  return { satisfiable };
}

/** §13.2.2's order of preconditions, then §14 for ranges: what a GET/HEAD (or another method, for serveFile) must get. */
function modelAnswer(method: string, h: Headers, rep: Representation, maxRanges = 100): ModelAnswer {
  const lm = date(rep.lastModified)!;
  if (h['if-match'] !== undefined) {
    const list = tags(h['if-match']);
    if (!list.includes('*') && !list.some((t) => !weak(t) && !weak(rep.etag) && t === rep.etag)) return { status: 412 };
  } else if (date(h['if-unmodified-since']) !== undefined && lm > date(h['if-unmodified-since'])!) {
    return { status: 412 };
  }
  const getOrHead = method === 'GET' || method === 'HEAD';
  if (h['if-none-match'] !== undefined) {
    const list = tags(h['if-none-match']);
    if (list.includes('*') || list.some((t) => opaque(t) === opaque(rep.etag))) return { status: getOrHead ? 304 : 412 };
  } else if (getOrHead && date(h['if-modified-since']) !== undefined && lm <= date(h['if-modified-since'])!) {
    return { status: 304 };
  }
  if (method !== 'GET' || h.range === undefined) return { status: 200 };
  const ifRange = h['if-range'];
  if (ifRange !== undefined) {
    const passes = ifRange.startsWith('"') || ifRange.startsWith('W/') ? !weak(ifRange) && ifRange === rep.etag : date(ifRange) === lm;
    if (!passes) return { status: 200 };
  }
  const parsed = parseRangeSet(h.range, rep.size);
  if (!parsed) return { status: 'ignored-or-416' };
  if (parsed.satisfiable.length === 0) return { status: 416 };
  if (parsed.satisfiable.length > maxRanges) return { status: 200 };
  return { status: 206, ranges: parsed.satisfiable };
}

/** The bytes the ranges cover, as a sorted list of disjoint [start, end] runs. */
function union(ranges: [number, number][]): [number, number][] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const [s, e] of sorted) {
    const last = out.at(-1);
    if (last && s <= last[1] + 1) last[1] = Math.max(last[1], e);
    else out.push([s, e]);
  }
  return out;
}

function httpDate(ms: number): string {
  return new Date(ms).toUTCString();
}

/** Conditional and range headers built from the representation's own validators and their near misses. */
function headersArb(rep: Representation): fc.Arbitrary<Headers> {
  const lm = date(rep.lastModified)!;
  const dates = fc.constantFrom(httpDate(lm), httpDate(lm - 1000), httpDate(lm + 1000), httpDate(lm + 86_400_000), httpDate(0), 'not a date', '');
  const etags = fc.constantFrom(rep.etag, `W/${rep.etag}`, '"other"', '*', `"other", ${rep.etag}`, `W/"other", W/${rep.etag}`, '"', ',');
  const n = fc.integer({ min: 0, max: rep.size + 5 });
  const spec = fc.oneof(
    fc.tuple(n, n).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`),
    n.map((a) => `${a}-`),
    n.map((a) => `-${a}`),
    fc.tuple(n, n).map(([a, b]) => `${Math.max(a, b) + 1}-${Math.min(a, b)}`), // last before first: invalid
  );
  const range = fc.oneof(
    { arbitrary: fc.array(spec, { minLength: 1, maxLength: 6 }).map((s) => `bytes=${s.join(',')}`), weight: 6 },
    { arbitrary: fc.constantFrom('bytes=', 'bytes=-', 'bytes=abc', 'items=0-5', 'bytes 0-5', 'bytes=--1', 'bytes=1-x'), weight: 1 },
  );
  return fc.record(
    { range, 'if-range': fc.oneof(etags, dates), 'if-match': etags, 'if-none-match': etags, 'if-modified-since': dates, 'if-unmodified-since': dates },
    { requiredKeys: [] },
  );
}

function rawRequestWith(method: string, path: string, headers: Headers): string {
  return `${method} ${path} HTTP/1.1\r\nHost: localhost\r\n${Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** Checks one answer against the model; `file` is the representation's bytes. */
function expectAgrees(answer: ModelAnswer, r: { status: number; headers: Record<string, string>; body: Buffer }, file: Buffer, method: string, what: string): void {
  if (answer.status === 'ignored-or-416') {
    expect([200, 416], what).toContain(r.status);
  } else {
    expect(r.status, what).toBe(answer.status);
  }
  const head = method === 'HEAD';
  if (r.status === 200 && !head) expect(r.body.equals(file), `${what}: the whole file`).toBe(true);
  if (r.status === 200) expect(r.headers['content-length'], what).toBe(String(file.length));
  if (r.status === 416) expect(r.headers['content-range'], what).toBe(`bytes */${file.length}`);
  if (r.status === 206 && answer.status === 206) {
    const parts = partsOf(r);
    for (const p of parts) {
      expect(p.size, what).toBe(file.length);
      expect(p.body.equals(file.subarray(p.start, p.end + 1)), `${what}: part ${p.start}-${p.end}`).toBe(true);
    }
    // Parts may be merged, never overlap, and cover exactly what was asked.
    expect(union(parts.map((p) => [p.start, p.end])), what).toEqual(union(answer.ranges));
    expect(parts.reduce((n, p) => n + p.end - p.start + 1, 0), `${what}: overlapping parts`).toBe(union(answer.ranges).reduce((n, [s, e]) => n + e - s + 1, 0));
  }
}

describe('property: serveFile and serveStatic answer as a small model of RFC 9110 says, with bytes of the file only', () => {
  let root: string;
  let secret: Buffer;
  const files = new Map<string, Buffer>();
  let fileServer: Running;
  let staticServer: Running;
  const failures: unknown[] = [];
  const reps = new Map<string, Representation>();

  beforeAll(async () => {
    root = join(dir.path, 'root');
    mkdirSync(join(root, 'docs'), { recursive: true });
    for (const [name, size] of [['a.bin', 5000], ['empty.txt', 0], ['docs/one.txt', 1], ['docs/index.html', 300]] as const) {
      const bytes = randomBytes(size);
      writeFileSync(join(root, name), bytes);
      files.set(name, bytes);
    }
    // Next to the root, never to be served.
    secret = Buffer.from(`SECRET-${randomBytes(8).toString('hex')}`);
    writeFileSync(join(dir.path, 'secret.txt'), secret);
    fileServer = await httpServer((req, res) => {
      const name = decodeURIComponent(req.url!.slice(1));
      serveFile(req, res, join(root, name)).catch((e: { code?: string }) => e.code !== 'ERR_STREAM_DESTROYED' && failures.push(e));
    });
    const handler = serveStatic(root);
    staticServer = await httpServer((req, res) => void handler(req, res).catch((e) => failures.push(e)));
    for (const name of files.keys()) {
      const { responses } = await rawExchange(fileServer.port, rawRequestWith('HEAD', `/${name}`, {}), 1, [true]);
      const stat = statSync(join(root, name));
      reps.set(name, { size: stat.size, etag: responses[0].headers.etag, lastModified: responses[0].headers['last-modified'] });
    }
  });
  afterAll(async () => {
    await fileServer?.close();
    await staticServer?.close();
    expect(failures).toEqual([]);
  });

  it.each(['serveFile', 'serveStatic'])('%s: conditional and range requests', async (which) => {
    const names = [...files.keys()];
    const arb = fc.constantFrom(...names).chain((name) =>
      fc.tuple(fc.constant(name), fc.constantFrom('GET', 'GET', 'GET', 'HEAD', ...(which === 'serveFile' ? ['POST', 'DELETE'] : [])), headersArb(reps.get(name)!)),
    );
    const port = which === 'serveFile' ? fileServer.port : staticServer.port;
    await fc.assert(
      fc.asyncProperty(arb, async ([name, method, headers]) => {
        const { responses } = await rawExchange(port, rawRequestWith(method, `/${name}`, headers), 1, [method === 'HEAD']);
        const what = `${method} /${name} ${JSON.stringify(headers)}`;
        expect(responses.length, what).toBe(1);
        expectAgrees(modelAnswer(method, headers, reps.get(name)!), responses[0], files.get(name)!, method, what);
      }),
      settings(),
    );
  });

  it('serveStatic: random paths and methods never reach outside the root, never fail with 5xx', async () => {
    const segment = fc.constantFrom('a.bin', 'docs', 'one.txt', 'index.html', 'empty.txt', '..', '.', '%2e%2e', '%2E%2e', '%2f', '%5c', '\\', '.hidden', 'secret.txt', '%00', 'a%20b', '%', '%zz', '', 'x'.repeat(300), '%C0%AE', 'root');
    const arb = fc.tuple(
      fc.array(segment, { minLength: 0, maxLength: 6 }),
      fc.boolean(),
      fc.constantFrom('GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'),
      fc.constantFrom('', '?x=1', '#frag', '?a=../../secret.txt'),
    );
    await fc.assert(
      fc.asyncProperty(arb, async ([segments, slash, method, suffix]) => {
        const path = `/${segments.join('/')}${slash ? '/' : ''}${suffix}`;
        const { responses, raw } = await rawExchange(staticServer.port, rawRequestWith(method, path, {}), 1, [method === 'HEAD']);
        const what = `${method} ${path}`;
        expect(raw.includes(secret), `${what}: the secret outside the root was sent`).toBe(false);
        if (responses.length === 0) return; // Node refused the request line itself and closed
        const [r] = responses;
        expect(r.status, what).toBeLessThan(500);
        if (!['GET', 'HEAD'].includes(method)) expect(r.status, what).toBe(405);
        if (r.status === 200 && method === 'GET') {
          expect([...files.values()].some((f) => f.equals(r.body)), `${what}: a 200 whose body is none of the files under root`).toBe(true);
        }
        // A plain path to a file under the root is that file.
        const plain = segments.filter((s) => s !== '' && s !== '.').join('/');
        if (method === 'GET' && !slash && !suffix.startsWith('#') && files.has(plain) && segments.every((s) => /^[\w.]+$/.test(s) && s !== '..')) {
          expect(r.status, what).toBe(200);
          expect(r.body.equals(files.get(plain)!), what).toBe(true);
        }
      }),
      settings(),
    );
  });
});

// ------------------------------------------------------------ receiveFile and relay

describe('receiveFile and relay, for any bytes cut into any chunks', () => {
  // Each run makes connections and files: fewer runs than the models above.
  const flowRuns = Math.max(10, Math.floor(RUNS / 4));
  const chunked = (size: number) => fc.tuple(fc.integer({ min: 0, max: size }), fc.array(fc.integer({ min: 1, max: 70_000 }), { minLength: 1, maxLength: 8 }));

  /** Writes `data` cut at the given sizes (cycled), one piece per turn of the event loop, then ends. */
  async function writeCut(socket: import('node:net').Socket, data: Buffer, cuts: number[]): Promise<void> {
    for (let at = 0, i = 0; at < data.length; i++) {
      const n = cuts[i % cuts.length];
      socket.write(data.subarray(at, at + n));
      at += n;
      await new Promise((resolve) => setImmediate(resolve));
    }
    socket.end();
  }

  it('receiveFile writes exactly the first min(count, sent) bytes at offset, and leaves the rest on the socket', async () => {
    const { tcpPair, collect, destroyPairs } = await import('./support/pairs.js');
    const backends = capabilities().receive.backends;
    await fc.assert(
      fc.asyncProperty(
        chunked(300_000),
        fc.option(fc.integer({ min: 0, max: 310_000 }), { nil: undefined }),
        fc.integer({ min: 0, max: 5000 }),
        fc.constantFrom(...backends),
        async ([size, cuts], count, offset, backend) => {
          try {
            const data = randomBytes(size);
            const { server, client } = await tcpPair({ allowHalfOpen: true });
            const path = join(dir.path, `prop-${size}-${offset}.bin`);
            writeFileSync(path, Buffer.alloc(offset, 0x2e));
            const writing = writeCut(client, data, cuts);
            const outcome = await receiveFile(server, path, { count, offset, flags: 'r+', backend: backend as never }).then(
              (r) => ({ ok: true as const, bytes: r.bytesReceived, code: undefined }),
              (e: { code?: string; bytesReceived?: number }) => ({ ok: false as const, bytes: e.bytesReceived, code: e.code }),
            );
            await writing;
            const want = count === undefined ? size : Math.min(count, size);
            const file = readFileSync(path);
            expect(file.subarray(0, offset).equals(Buffer.alloc(offset, 0x2e)), 'the bytes before offset').toBe(true);
            expect(file.subarray(offset).equals(data.subarray(0, want)), 'the bytes at offset').toBe(true);
            if (count !== undefined && count > size) expect(outcome).toEqual({ ok: false, bytes: size, code: 'ERR_STREAM_PREMATURE_CLOSE' });
            else expect(outcome).toEqual({ ok: true, bytes: want, code: undefined });
            if (count !== undefined && count < size) {
              const rest = await collect(server);
              expect(rest.data.equals(data.subarray(count)), 'the rest, still on the socket').toBe(true);
            }
          } finally {
            destroyPairs();
          }
        },
      ),
      settings(flowRuns),
    );
  });

  it('relay delivers both ways exactly what was sent, with the counts', async () => {
    const { tcpPair, collect, destroyPairs } = await import('./support/pairs.js');
    const backends = capabilities().relay.backends;
    await fc.assert(
      fc.asyncProperty(chunked(300_000), chunked(300_000), fc.constantFrom(...backends), async ([sizeA, cutsA], [sizeB, cutsB], backend) => {
        try {
          const there = randomBytes(sizeA);
          const back = randomBytes(sizeB);
          const one = await tcpPair({ allowHalfOpen: true });
          const two = await tcpPair({ allowHalfOpen: true });
          const atRight = collect(two.server);
          const atLeft = collect(one.client);
          const relaying = relay(one.server, two.client, { backend: backend as never });
          await Promise.all([writeCut(one.client, there, cutsA), writeCut(two.server, back, cutsB)]);
          const [right, left, result] = await Promise.all([atRight, atLeft, relaying]);
          expect(right.data.equals(there), 'a to b').toBe(true);
          expect(left.data.equals(back), 'b to a').toBe(true);
          expect(result).toEqual({ aToB: sizeA, bToA: sizeB, backend });
        } finally {
          destroyPairs();
        }
      }),
      settings(flowRuns),
    );
  });
});
