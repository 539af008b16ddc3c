// Files that change while they are served over HTTPS and HTTP/2, where the
// bytes pass through JavaScript and OpenSSL (from the open-file cache's copy
// of a small file, or read in chunks from a large one): truncated, replaced
// by a rename, or grown, while a client holds its response half read. The
// process must not crash (a mapping read past a truncated end would be
// SIGBUS), no byte may arrive that was never at its place in the file, and
// a response that cannot be whole must end so that the client can tell:
// the connection closed, or the stream reset. Afterwards the server serves
// the file as it now is.
import { appendFileSync, renameSync, truncateSync, writeFileSync } from 'node:fs';
import * as http2 from 'node:http2';
import * as https from 'node:https';
import type { Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveStatic, type StaticHandler } from '../dist/cjs/index.js';
import { KiB, MiB, seededBytes } from './support/bytes.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { listen, type Running } from './support/http.js';
import { findCommand } from './support/processes.js';
import { makeSelfSignedCertificate } from './support/tls.js';
import { eventually, within } from './support/waiting.js';

let dir: TempDir;
let certificate: { key: Buffer; cert: Buffer };
let files: StaticHandler;
let httpsServer: Running;
let h2Server: Running;

beforeAll(async () => {
  dir = makeTempDir('zerocopy-tls-hostile-');
  certificate = await makeSelfSignedCertificate(dir.path);
  files = serveStatic(dir.path);
  httpsServer = await listen(https.createServer(certificate, (req, res) => void files(req, res)), 'https');
  h2Server = await listen(http2.createSecureServer(certificate, (req, res) => void files(req, res)) as unknown as Server, 'https');
});

afterAll(async () => {
  await httpsServer?.close();
  await h2Server?.close();
  await files?.close();
  dir?.remove();
});

interface Received {
  status: number;
  length: number;
  body: Buffer;
  /** Whether the response came whole: all its Content-Length, ended cleanly. */
  whole: boolean;
}

/**
 * One GET that reads the head and `pauseAfter` bytes, then waits for
 * `change()` before reading on to the end, however it ends.
 */
function pausedGet(protocol: 'https' | 'h2', path: string, pauseAfter: number, change: () => void): Promise<Received> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let status = 0;
    let length = 0;
    let got = 0;
    let changed = false;
    const finish = (whole: boolean) => resolve({ status, length, body: Buffer.concat(chunks), whole: whole && got === length });
    const onData = (stream: NodeJS.ReadableStream & { pause(): void; resume(): void }) => (chunk: Buffer) => {
      chunks.push(chunk);
      got += chunk.length;
      if (!changed && got >= pauseAfter) {
        changed = true;
        stream.pause();
        change();
        setTimeout(() => stream.resume(), 50);
      }
    };
    if (protocol === 'https') {
      const req = https.get({ host: '127.0.0.1', port: httpsServer.port, path, ca: certificate.cert, agent: false }, (res) => {
        status = res.statusCode!;
        length = Number(res.headers['content-length']);
        res.on('data', onData(res));
        res.on('end', () => finish(res.complete));
        res.on('error', () => finish(false));
        res.on('aborted', () => finish(false));
      });
      req.on('error', () => finish(false));
    } else {
      const session = http2.connect(h2Server.url, { ca: certificate.cert });
      session.on('error', () => {});
      const stream = session.request({ ':path': path });
      stream.on('response', (h) => {
        status = Number(h[':status']);
        length = Number(h['content-length']);
      });
      stream.on('data', onData(stream));
      let ended = false;
      stream.on('end', () => (ended = true));
      stream.on('error', () => {});
      stream.on('close', () => {
        finish(ended && stream.rstCode === http2.constants.NGHTTP2_NO_ERROR);
        session.close();
      });
    }
    setTimeout(() => reject(new Error(`${protocol} GET ${path}: no end within 10 s`)), 10_000).unref();
  });
}

/** A plain GET: status and body. */
async function get(protocol: 'https' | 'h2', path: string): Promise<{ status: number; body: Buffer }> {
  const r = await pausedGet(protocol, path, Infinity, () => {});
  return { status: r.status, body: r.body };
}

type Change = 'truncated' | 'replaced' | 'grown';

const CHANGES: Record<Change, (path: string, before: Buffer) => Buffer> = {
  // The same file, shorter: its first 1000 bytes stay.
  truncated: (path, before) => {
    truncateSync(path, 1000);
    return before.subarray(0, 1000);
  },
  // Another file renamed over it: the open descriptor still reads the old one.
  replaced: (path, before) => {
    const after = seededBytes(`${path}-after`, before.length);
    writeFileSync(`${path}.new`, after);
    renameSync(`${path}.new`, path);
    return after;
  },
  // The same file, longer: the old bytes stay where they were.
  grown: (path, before) => {
    const more = seededBytes(`${path}-more`, 4096);
    appendFileSync(path, more);
    return Buffer.concat([before, more]);
  },
};

const SIZES = { 'a small file the cache keeps in memory': 64 * KiB, 'a large file read in chunks': 8 * MiB };

describe.each(['https', 'h2'] as const)('over %s', (protocol) => {
  describe.each(Object.entries(SIZES))('%s', (_what, size) => {
    it.each(Object.keys(CHANGES) as Change[])('%s mid-response: no crash, no byte that was never there, a clear end, and the new file after', async (change) => {
      const name = `${protocol}-${size}-${change}.bin`;
      const path = dir.file(name);
      const before = seededBytes(name, size);
      writeFileSync(path, before);
      // Twice: the first response has the cache read the small file's contents for the next.
      for (let i = 0; i < 2; i++) expect((await get(protocol, `/${name}`)).body.equals(before)).toBe(true);
      let after = before;
      const r = await within(pausedGet(protocol, `/${name}`, 16 * KiB, () => (after = CHANGES[change](path, before))), 15_000, 'the changed response');
      expect(r.status).toBe(200);
      expect(r.length).toBe(size);
      // Each byte is the one the file held at its place, before the change or after it.
      for (let i = 0; i < r.body.length; i++) {
        if (r.body[i] !== before[i] && r.body[i] !== after[i]) throw new Error(`byte ${i} of ${r.body.length} was never in the file (${r.body[i]})`);
      }
      // Short of its Content-Length, it did not end cleanly.
      if (r.body.length < size) expect(r.whole).toBe(false);
      else expect(r.body.length).toBe(size);
      // The server goes on, and serves the file as it is now.
      await eventually(async () => (await get(protocol, `/${name}`)).body.equals(after), `the ${change} file to be served as it now is`);
    });
  });
});

// The suite needs a certificate, and so openssl: as the other TLS tests.
it.runIf(!findCommand('openssl'))('needs openssl', () => {
  throw new Error('The TLS tests need the `openssl` command line tool');
});
