// HTTP file serving on top of sendFile(): statuses, headers, conditional
// requests and ranges, decided once for every kind of response object, then
// written either by sendFile() on the connection itself (node:http over TCP
// or TLS: the head travels as sendFile's `headers`) or through the response's
// own write() (HTTP/2, and responses wrapped by middleware).
import { randomBytes } from 'node:crypto';
import { closeSync, type Stats } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import etag from 'etag';
import fresh from 'fresh';
import mime from 'mime-types';
import parseRange from 'range-parser';
import { AbortError, invalidArgType, invalidArgValue, streamDestroyed, type TransferError } from './errors.js';
import { openFresh } from './file-cache.js';
import { canWriteRaw, endTakenOver, responseSocket, responseTurn, takeHead } from './http1.js';
import { sendFile } from './index.js';
import { sendStream } from './stream.js';

export type ServeRequest = IncomingMessage | Http2ServerRequest;
export type ServeResponse = ServerResponse | Http2ServerResponse;

export interface ServeFileOptions {
  /** `Cache-Control: public, max-age=…` in milliseconds, as in `send`/`serve-static` (capped at one year). Default 0. */
  maxAge?: number;
  /** Adds `immutable` to `Cache-Control`. */
  immutable?: boolean;
  /** Whether to set `Cache-Control` at all. Default true. */
  cacheControl?: boolean;
  /** `true` or `'strong'` (default): a strong ETag from size and mtime, as nginx makes; `'weak'`: the same with `W/`, as `send` makes; `false`: none. */
  etag?: boolean | 'strong' | 'weak';
  /** Whether to set `Last-Modified`. Default true. */
  lastModified?: boolean;
  /** Whether to answer `Range` requests and say `Accept-Ranges: bytes`. Default true. */
  acceptRanges?: boolean;
  /** The `Content-Type`; default: from the file name's extension, `application/octet-stream` when unknown. */
  contentType?: string;
  /** More ranges than this in one request (after merging overlapping ones) get the whole file. Default 100. */
  maxRanges?: number;
  /** Aborts the transfer; the connection (or HTTP/2 stream) is destroyed. */
  signal?: AbortSignal;
  /** Passed to sendFile() for the body on the raw-connection path. */
  backend?: string;
}

export interface ServeResult {
  statusCode: number;
  /** Body bytes handed to the connection: file bytes plus multipart framing, as nginx's `$body_bytes_sent`. */
  bytesSent: number;
  /** The backend that carried the body: a sendFile() backend, `'response'` when written through the response's own write(), or undefined without a body. */
  backend?: string;
}

/** An open file to answer with, and what to say about it. */
export interface Representation {
  fd: number | FileHandle;
  stat: Stats;
  /** The name the Content-Type comes from (the original name for a precompressed sibling). */
  name: string;
  /** The Content-Encoding of the bytes, for precompressed siblings. */
  encoding?: string;
  /** Whether the answer depends on Accept-Encoding. */
  varyEncoding?: boolean;
}

interface Settings {
  cacheControl: string | undefined;
  etag: 'strong' | 'weak' | false;
  lastModified: boolean;
  acceptRanges: boolean;
  contentType: string | undefined;
  maxRanges: number;
  signal: AbortSignal | undefined;
  backend: string | undefined;
}

const ONE_YEAR_MS = 365 * 24 * 60 * 60 * 1000;

export function parseServeOptions(options: ServeFileOptions | undefined, name = 'options'): Settings {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw invalidArgType(name, 'of type object', options);
  const o = options;
  const maxAge = o.maxAge ?? 0;
  if (typeof maxAge !== 'number' || !Number.isFinite(maxAge) || maxAge < 0) {
    throw invalidArgValue(`${name}.maxAge`, maxAge, 'must be a number of milliseconds >= 0');
  }
  const seconds = Math.floor(Math.min(maxAge, ONE_YEAR_MS) / 1000);
  const tag = o.etag ?? true;
  if (![true, false, 'strong', 'weak'].includes(tag)) {
    throw invalidArgValue(`${name}.etag`, tag, "must be true, false, 'strong' or 'weak'");
  }
  if (o.contentType !== undefined && typeof o.contentType !== 'string') {
    throw invalidArgType(`${name}.contentType`, 'of type string', o.contentType);
  }
  const maxRanges = o.maxRanges ?? 100;
  if (!Number.isInteger(maxRanges) || maxRanges < 1) throw invalidArgValue(`${name}.maxRanges`, maxRanges, 'must be an integer >= 1');
  if (o.signal !== undefined && !(o.signal instanceof AbortSignal)) {
    throw invalidArgType(`${name}.signal`, 'an instance of AbortSignal', o.signal);
  }
  return {
    cacheControl: o.cacheControl === false ? undefined : `public, max-age=${seconds}${o.immutable ? ', immutable' : ''}`,
    etag: tag === false ? false : tag === 'weak' ? 'weak' : 'strong',
    lastModified: o.lastModified !== false,
    acceptRanges: o.acceptRanges !== false,
    contentType: o.contentType,
    maxRanges,
    signal: o.signal,
    backend: o.backend,
  };
}

// --- Headers -------------------------------------------------------------

function header(req: ServeRequest, name: string): string | undefined {
  const value = req.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}

function stringHeader(res: ServeResponse, name: string): string | undefined {
  const value = res.getHeader(name);
  if (value === undefined) return undefined;
  return Array.isArray(value) ? value.join(', ') : String(value);
}

/** Sets a header unless the caller already has: the caller's win. */
function setDefault(res: ServeResponse, name: string, value: string): void {
  if (!res.hasHeader(name)) res.setHeader(name, value);
}

function addVary(res: ServeResponse, field: string): void {
  const current = stringHeader(res, 'vary');
  if (current === undefined) return void res.setHeader('Vary', field);
  const fields = current.split(',').map((f) => f.trim().toLowerCase());
  if (!fields.includes('*') && !fields.includes(field.toLowerCase())) res.setHeader('Vary', `${current}, ${field}`);
}

/** Headers describing a representation that must not stay on a response that is not one. */
const REPRESENTATION_HEADERS = ['content-type', 'content-length', 'content-encoding', 'content-range', 'content-language', 'content-disposition', 'transfer-encoding', 'etag', 'last-modified'];

// --- Conditional requests (RFC 9110 §13) ----------------------------------

function tokenList(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

const isWeak = (tag: string) => tag.startsWith('W/');
const opaque = (tag: string) => (isWeak(tag) ? tag.slice(2) : tag);

/** If-Match: strong comparison; `*` matches any current representation. */
function ifMatchPasses(value: string, current: string | undefined): boolean {
  const tags = tokenList(value);
  if (tags.includes('*')) return true;
  if (current === undefined || isWeak(current)) return false;
  return tags.some((t) => !isWeak(t) && t === current);
}

/** If-None-Match: weak comparison. True when some tag matches. */
function noneMatchMatches(value: string, current: string | undefined): boolean {
  const tags = tokenList(value);
  if (tags.includes('*')) return true;
  return current !== undefined && tags.some((t) => opaque(t) === opaque(current));
}

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** If-Range: a strong entity tag that matches, or a date equal to Last-Modified. */
function ifRangePasses(value: string, current: string | undefined, lastModified: string | undefined): boolean {
  const v = value.trim();
  if (v.startsWith('"') || v.startsWith('W/')) return current !== undefined && !isWeak(v) && !isWeak(current) && v === current;
  const date = parseDate(v);
  return date !== undefined && lastModified !== undefined && date === parseDate(lastModified);
}

// --- Planning ----------------------------------------------------------------

interface Part {
  start: number;
  /** Inclusive. */
  end: number;
  /** Multipart framing before this part's bytes. */
  header?: Buffer;
}

interface Plan {
  statusCode: number;
  /** File ranges to send, in order; empty for no file body. */
  parts: Part[];
  /** Bytes after the last part (the closing multipart delimiter). */
  trailer?: Buffer;
  /** A short text body instead of file bytes (412, 416). */
  text?: string;
}

function etagFor(rep: Representation, kind: 'strong' | 'weak'): string {
  const tag = etag(rep.stat, { weak: kind === 'weak' });
  // A precompressed sibling is another representation: its tag must differ
  // even when its size and mtime match the original's.
  return rep.encoding ? tag.replace(/"$/, `-${rep.encoding}"`) : tag;
}

/**
 * Sets the representation's headers on `res` (the caller's win) and decides
 * the status and body, RFC 9110 §13.2.2's order: If-Match, else
 * If-Unmodified-Since (412); If-None-Match, else If-Modified-Since (304);
 * then Range, subject to If-Range.
 */
function plan(req: ServeRequest, res: ServeResponse, rep: Representation, settings: Settings): Plan {
  const method = req.method ?? 'GET';
  const size = rep.stat.size;

  const type = settings.contentType ?? (mime.contentType(extname(rep.name)) || 'application/octet-stream');
  setDefault(res, 'Content-Type', type);
  if (settings.cacheControl) setDefault(res, 'Cache-Control', settings.cacheControl);
  if (settings.lastModified) setDefault(res, 'Last-Modified', rep.stat.mtime.toUTCString());
  if (settings.etag) setDefault(res, 'ETag', etagFor(rep, settings.etag));
  const ranges = settings.acceptRanges && stringHeader(res, 'accept-ranges')?.toLowerCase() !== 'none';
  if (ranges) setDefault(res, 'Accept-Ranges', 'bytes');
  if (rep.encoding) res.setHeader('Content-Encoding', rep.encoding);
  if (rep.varyEncoding) addVary(res, 'Accept-Encoding');
  res.removeHeader('Transfer-Encoding');
  res.removeHeader('Content-Range');

  // Validators as the response states them: the caller's, if it set its own.
  const currentTag = stringHeader(res, 'etag');
  const lastModified = stringHeader(res, 'last-modified');

  const ifMatch = header(req, 'if-match');
  const ifUnmodifiedSince = parseDate(header(req, 'if-unmodified-since'));
  if (ifMatch !== undefined) {
    if (!ifMatchPasses(ifMatch, currentTag)) return failed(res, 412);
  } else if (ifUnmodifiedSince !== undefined) {
    const modified = parseDate(lastModified) ?? Math.floor(rep.stat.mtimeMs / 1000) * 1000;
    if (modified > ifUnmodifiedSince) return failed(res, 412);
  }

  const ifNoneMatch = header(req, 'if-none-match');
  if (method === 'GET' || method === 'HEAD') {
    const conditions = {
      'if-none-match': ifNoneMatch,
      // RFC 9110 §13.1.3: ignored when If-None-Match is present.
      'if-modified-since': ifNoneMatch === undefined ? header(req, 'if-modified-since') : undefined,
      // Not the request's Cache-Control: `no-cache` asks caches to validate
      // with the origin, and this is the origin validating (fresh() and send
      // would answer 200, which fetch() with an If-None-Match always gets).
    };
    if (fresh(conditions, { etag: currentTag, 'last-modified': lastModified })) {
      for (const name of ['content-type', 'content-length', 'content-range', 'transfer-encoding']) res.removeHeader(name);
      return { statusCode: 304, parts: [] };
    }
  } else if (ifNoneMatch !== undefined && noneMatchMatches(ifNoneMatch, currentTag)) {
    return failed(res, 412);
  }

  const range = header(req, 'range');
  if (ranges && method === 'GET' && range !== undefined) {
    const ifRange = header(req, 'if-range');
    if (ifRange === undefined || ifRangePasses(ifRange, currentTag, lastModified)) {
      const parsed = parseRange(size, range, { combine: true });
      if (parsed === -1) {
        const p = failed(res, 416);
        res.setHeader('Content-Range', `bytes */${size}`);
        return p;
      }
      // A malformed header (-2), another unit, or too many ranges: ignored,
      // as RFC 9110 §14.2 allows, and the whole file is sent.
      if (parsed !== -2 && parsed.type === 'bytes' && parsed.length <= settings.maxRanges) {
        if (parsed.length === 1) {
          const [{ start, end }] = parsed;
          res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
          res.setHeader('Content-Length', String(end - start + 1));
          return { statusCode: 206, parts: [{ start, end }] };
        }
        return multipart(res, parsed, size);
      }
    }
  }

  res.setHeader('Content-Length', String(size));
  return { statusCode: 200, parts: size > 0 ? [{ start: 0, end: size - 1 }] : [] };
}

/** multipart/byteranges (RFC 9110 §14.6), framed as nginx frames it. */
function multipart(res: ServeResponse, ranges: { start: number; end: number }[], size: number): Plan {
  const boundary = randomBytes(10).toString('hex');
  const type = stringHeader(res, 'content-type');
  const parts = ranges.map(({ start, end }, i) => ({
    start,
    end,
    header: Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\n` +
        (type ? `Content-Type: ${type}\r\n` : '') +
        `Content-Range: bytes ${start}-${end}/${size}\r\n\r\n`,
      'latin1',
    ),
  }));
  const trailer = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  const length = parts.reduce((n, p) => n + p.header.length + (p.end - p.start + 1), trailer.length);
  res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
  res.setHeader('Content-Length', String(length));
  return { statusCode: 206, parts, trailer };
}

function failed(res: ServeResponse, statusCode: number): Plan {
  for (const name of ['content-encoding', 'content-range', 'content-language', 'content-disposition']) res.removeHeader(name);
  return { statusCode, parts: [], text: `${STATUS_CODES[statusCode]}\n` };
}

// --- Writing --------------------------------------------------------------------

const CLIENT_GONE = new Set(['ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ABORT_ERR', 'ERR_HTTP2_INVALID_STREAM', 'ERR_HTTP2_STREAM_ERROR']);

/** Whether a serveFile() rejection only says that the client went away (or the signal aborted). */
export function isClientGone(error: unknown): boolean {
  return CLIENT_GONE.has((error as { code?: string })?.code ?? '');
}

/**
 * Resolves when the response has finished; rejects when the connection (or
 * stream) closed first.
 */
function completion(res: ServeResponse, bytesSent: () => number): Promise<void> {
  return new Promise((resolve, reject) => {
    if (res.writableFinished) return resolve();
    const onFinish = () => {
      res.removeListener('close', onClose);
      resolve();
    };
    const onClose = () => {
      res.removeListener('finish', onFinish);
      // 'close' can follow 'finish' within the same tick on HTTP/2.
      if (res.writableFinished) return resolve();
      reject(Object.assign(new Error('The connection closed before the response was complete'), { code: 'ERR_STREAM_PREMATURE_CLOSE', bytesSent: bytesSent() }));
    };
    res.once('finish', onFinish);
    res.once('close', onClose);
  });
}

/** A response without file bytes, written by Node itself. */
export async function writeStatus(req: ServeRequest, res: ServeResponse, statusCode: number, text?: string): Promise<ServeResult> {
  const body = text !== undefined && req.method !== 'HEAD' && statusCode !== 304 ? Buffer.from(text, 'utf8') : undefined;
  if (text !== undefined) {
    res.setHeader('Content-Type', 'text/plain; charset=utf-8');
    res.setHeader('Content-Length', String(Buffer.byteLength(text)));
    res.setHeader('X-Content-Type-Options', 'nosniff');
  } else if (statusCode !== 304 && !res.hasHeader('content-length')) {
    res.setHeader('Content-Length', '0');
  }
  const done = completion(res, () => 0);
  res.writeHead(statusCode);
  if (body) res.end(body);
  else res.end();
  await done;
  return { statusCode, bytesSent: body?.length ?? 0 };
}

/** Answers with an error status and a one-line text body, dropping what described a file. */
export function writeError(req: ServeRequest, res: ServeResponse, statusCode: number, headers?: Record<string, string>): Promise<ServeResult> {
  for (const name of REPRESENTATION_HEADERS) res.removeHeader(name);
  for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
  return writeStatus(req, res, statusCode, `${STATUS_CODES[statusCode]}\n`);
}

function headersAlreadySent(): Error {
  return Object.assign(new Error('Cannot serve a file: the response headers were already sent'), { code: 'ERR_HTTP_HEADERS_SENT' });
}

/** Sends the plan's head and parts on the connection itself, by sendFile(). */
async function writeRaw(req: IncomingMessage, res: ServerResponse, rep: Representation, p: Plan, settings: Settings): Promise<ServeResult> {
  let total = 0;
  let headLength = 0;
  const body = () => Math.max(0, total - headLength);
  let backend: string | undefined;
  try {
    const socket = await responseSocket(req, res);
    const head = takeHead(res, p.statusCode);
    if (!head) throw new Error('serveFile: node:http rendered a head it cannot send raw');
    headLength = head.length;
    for (let i = 0; i < p.parts.length; i++) {
      const part = p.parts[i];
      const first = i === 0;
      const last = i === p.parts.length - 1;
      const headers = first ? (part.header ? [head, part.header] : head) : part.header;
      const result = await sendFile(socket, rep.fd, {
        offset: part.start,
        count: part.end - part.start + 1,
        headers,
        trailers: last ? p.trailer : undefined,
        signal: settings.signal,
        backend: settings.backend,
      }).catch((error: TransferError) => {
        total += error.bytesSent ?? 0;
        throw error;
      });
      total += result.bytesSent;
      backend = result.backend;
    }
  } catch (error) {
    // Node believes the head is out: whatever went, this connection can
    // carry nothing more that a client could frame.
    res.destroy();
    throw Object.assign(error as TransferError, { bytesSent: body() });
  }
  const done = completion(res, body);
  endTakenOver(res);
  await done;
  return { statusCode: p.statusCode, bytesSent: body(), backend };
}

/** Sends the plan through the response's own writeHead()/write()/end(): HTTP/2, wrapped responses. */
async function writeThrough(res: ServeResponse, rep: Representation, p: Plan, settings: Settings): Promise<ServeResult> {
  const sent = { value: 0 };
  let closed = false;
  const onClose = () => {
    closed = true;
  };
  res.once('close', onClose);
  const { signal } = settings;
  const fd = typeof rep.fd === 'number' ? rep.fd : rep.fd.fd;
  // Resolves once the response has taken the chunks, waiting for 'drain'
  // when it asks to; the connection closing or the signal ends the wait.
  const write = (chunks: Buffer[]) =>
    new Promise<void>((resolve, reject) => {
      if (signal?.aborted) return reject(new AbortError(signal.reason, sent.value));
      if (closed || res.destroyed) return reject(streamDestroyed(sent.value));
      let ok = true;
      for (const chunk of chunks) ok = (res as ServerResponse).write(chunk) && ok;
      if (ok) return resolve();
      const finish = (error?: Error) => {
        res.removeListener('drain', onDrain);
        res.removeListener('close', onGone);
        signal?.removeEventListener('abort', onAbort);
        if (error) reject(error);
        else resolve();
      };
      const onDrain = () => finish();
      const onGone = () => finish(streamDestroyed(sent.value));
      const onAbort = () => finish(new AbortError(signal?.reason, sent.value));
      res.once('drain', onDrain);
      res.once('close', onGone);
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  try {
    res.writeHead(p.statusCode);
    for (let i = 0; i < p.parts.length; i++) {
      const part = p.parts[i];
      await sendStream(
        {
          fd,
          offset: BigInt(part.start),
          count: BigInt(part.end - part.start + 1),
          headers: part.header ?? null,
          trailers: i === p.parts.length - 1 ? p.trailer ?? null : null,
          write,
          progress: () => {},
        },
        sent,
      );
    }
  } catch (error) {
    res.destroy();
    throw Object.assign(error as TransferError, { bytesSent: sent.value });
  } finally {
    res.removeListener('close', onClose);
  }
  const done = completion(res, () => sent.value);
  res.end();
  await done;
  return { statusCode: p.statusCode, bytesSent: sent.value, backend: 'response' };
}

/** Answers `req` with an open file: the part serveFile and serveStatic share. */
export async function respond(req: ServeRequest, res: ServeResponse, rep: Representation, settings: Settings): Promise<ServeResult> {
  if (res.headersSent) throw headersAlreadySent();
  const p = plan(req, res, rep, settings);
  if (p.parts.length === 0 || req.method === 'HEAD') return writeStatus(req, res, p.statusCode, p.text);
  if (canWriteRaw(req, res)) return writeRaw(req as IncomingMessage, res, rep, p, settings);
  return writeThrough(res, rep, p, settings);
}

// --- Opening --------------------------------------------------------------------


/** The status for an error opening a file: 404 for what does not exist, 403 for what may not be read. */
export function openErrorStatus(error: unknown): number | undefined {
  switch ((error as { code?: string })?.code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'ENAMETOOLONG':
    case 'ELOOP':
    case 'EISDIR':
      return 404;
    case 'EACCES':
    case 'EPERM':
      return 403;
    default:
      return undefined;
  }
}

/**
 * Answers an HTTP request with a file: status and headers from the file and
 * the request (conditional requests, ranges), the body by sendFile() on the
 * connection. Resolves when the response is complete.
 */
export async function serveFile(req: ServeRequest, res: ServeResponse, path: string | URL, options?: ServeFileOptions): Promise<ServeResult> {
  if (typeof req !== 'object' || req === null || typeof req.headers !== 'object') throw invalidArgType('req', 'an http.IncomingMessage or http2.Http2ServerRequest', req);
  if (typeof res !== 'object' || res === null || typeof res.setHeader !== 'function') throw invalidArgType('res', 'an http.ServerResponse or http2.Http2ServerResponse', res);
  let file: string;
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw invalidArgValue('path', path.href, 'must be a file: URL');
    file = fileURLToPath(path);
  } else if (typeof path === 'string' && path.length > 0) {
    file = path;
  } else {
    throw invalidArgType('path', 'a non-empty string or a file: URL', path);
  }
  const settings = parseServeOptions(options);
  if (res.headersSent) throw headersAlreadySent();
  await responseTurn(req, res);
  if (file.includes('\0')) return writeError(req, res, 404);

  let opened: Awaited<ReturnType<typeof openFresh>>;
  try {
    opened = await openFresh(file);
  } catch (error) {
    const status = openErrorStatus(error);
    if (status === undefined) throw error;
    return writeError(req, res, status);
  }
  if ('kind' in opened) return writeError(req, res, 404);
  const { fd, stat } = opened;
  try {
    return await respond(req, res, { fd, stat, name: file }, settings);
  } finally {
    closeSync(fd);
  }
}
