// Answering a request with an open file: the part serveFile and serveStatic
// share. It sets the representation's headers (the caller's own win), asks
// rfc9110.ts what to answer, and hands the answer to a writer: sendFile() on
// the connection itself (node:http over TCP or TLS: the head travels as
// sendFile's `headers`), or the response's own write() (HTTP/2, responses
// wrapped by middleware).
import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { STATUS_CODES, ServerResponse, type IncomingMessage } from 'node:http';
import { extname } from 'node:path';
import etag from 'etag';
import mime from 'mime-types';
import type { HeaderMemo, OpenedFile } from './file-cache.js';
import { Http2ServerResponse } from 'node:http2';
import { isTls } from '../net-socket.js';
import { fieldsMayWait, rawConnection, prepareFields, setFields, type PreparedFields } from './http1.js';
import { fieldsMayWaitH2, setFieldsH2 } from './http2.js';
import type { ServeRequest, ServeResponse, ServeResult, Settings } from './options.js';
import { evaluatePreconditions, multipartFraming, selectRanges, type Validators } from './rfc9110.js';
import { writeRaw } from './raw.js';
import { dropFields, DROPPED_FIELDS, headersAlreadySent, writeFromMemory, writeStatus, writeThrough, type ResponsePlan } from './write.js';

/** An open file to answer with, and what to say about it. */
export interface Representation {
  fd: number;
  stat: Stats;
  /** The name the Content-Type comes from (the original name for a precompressed sibling). */
  name: string;
  /** The Content-Encoding of the bytes, for precompressed siblings. */
  encoding?: string;
  /** Whether the answer depends on Accept-Encoding. */
  varyEncoding?: boolean;
  /** Header values worked out for this open file before, and kept for the next response. */
  memo?: HeaderMemo;
  /** The open file, whose bytes may be had over a mapping or as a copy in memory. */
  opened?: Pick<OpenedFile, 'mapped' | 'contents'>;
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

function etagFor(rep: Representation, kind: 'strong' | 'weak'): string {
  const tag = etag(rep.stat, { weak: kind === 'weak' });
  // A precompressed sibling is another representation: its tag must differ
  // even when its size and mtime match the original's.
  return rep.encoding ? tag.replace(/"$/, `-${rep.encoding}"`) : tag;
}

/**
 * The fields that describe the representation, as the settings ask for
 * them (Accept-Ranges when `ranges`), their values worked out once per memo.
 */
function describingFields(rep: Representation, settings: Settings, ranges: boolean): [string, string][] {
  const memo = rep.memo ?? {};
  const fields: [string, string][] = [['Content-Type', settings.contentType ?? (memo.contentType ??= mime.contentType(extname(rep.name)) || 'application/octet-stream')]];
  if (settings.cacheControl) fields.push(['Cache-Control', settings.cacheControl]);
  if (settings.lastModified) fields.push(['Last-Modified', (memo.lastModified ??= rep.stat.mtime.toUTCString())]);
  if (settings.etag) fields.push(['ETag', ((memo.etag ??= {})[settings.etag] ??= etagFor(rep, settings.etag))]);
  if (ranges) fields.push(['Accept-Ranges', 'bytes']);
  return fields;
}

/** Sets the headers that describe the representation, the caller's own winning. */
function describe(res: ServeResponse, rep: Representation, settings: Settings, ranges: boolean): void {
  for (const [name, value] of describingFields(rep, settings, ranges)) setDefault(res, name, value);
  if (rep.encoding) res.setHeader('Content-Encoding', rep.encoding);
  if (rep.varyEncoding) addVary(res, 'Accept-Encoding');
  res.removeHeader('Transfer-Encoding');
  res.removeHeader('Content-Range');
}

/** A short text in place of the file (412, 416). */
function failed(res: ServeResponse, statusCode: number): ResponsePlan {
  dropFields(res, DROPPED_FIELDS.textInstead);
  return { statusCode, parts: [], text: `${STATUS_CODES[statusCode]}\n` };
}

/**
 * The fields of a 200 with the whole file, as describeAndDecide() would
 * set them one by one (Content-Length the file's, whatever the caller set),
 * checked once and kept in the memo for the next response.
 */
function wholeFileFields(rep: Representation, settings: Settings): PreparedFields {
  const memo = rep.memo;
  if (memo?.whole?.key === settings.fieldsKey) return memo.whole.fields;
  // A caller's Accept-Ranges (none) stays theirs, as the others do.
  const prepared = prepareFields([...describingFields(rep, settings, settings.acceptRanges), ['Content-Length', String(rep.stat.size), true]]);
  if (memo) memo.whole = { key: settings.fieldsKey, fields: prepared };
  return prepared;
}

/**
 * Whether the answer is the whole file with a 200 whatever the file's
 * validators are: a GET with nothing conditional and no range, of a
 * representation that is not a negotiated encoding, on a response whose
 * caller set neither a status nor a field that describe() would drop.
 */
function isPlainWhole(req: ServeRequest, res: ServeResponse, rep: Representation): boolean {
  const h = req.headers;
  return (
    req.method === 'GET' &&
    res.statusCode === 200 &&
    // Middleware that watches setHeader() must see every field set.
    res.setHeader === (res instanceof ServerResponse ? ServerResponse.prototype.setHeader : Http2ServerResponse.prototype.setHeader) &&
    rep.encoding === undefined &&
    !rep.varyEncoding &&
    h.range === undefined &&
    h['if-match'] === undefined &&
    h['if-none-match'] === undefined &&
    h['if-modified-since'] === undefined &&
    h['if-unmodified-since'] === undefined &&
    !res.hasHeader('transfer-encoding') &&
    !res.hasHeader('content-range')
  );
}

/**
 * Sets the response's header fields for `rep` and decides what it answers:
 * the status and the parts of the file (or a short text) to send.
 */
function prepareResponse(req: ServeRequest, res: ServeResponse, rep: Representation, settings: Settings): ResponsePlan {
  const size = rep.stat.size;
  // The common case, with the fields prepared once per file.
  if (size > 0 && isPlainWhole(req, res, rep)) {
    const whole = { statusCode: 200, parts: [{ start: 0, end: size - 1 }] };
    const fields = wholeFileFields(rep, settings);
    if (res instanceof ServerResponse ? fieldsMayWait(res) : fieldsMayWaitH2(res)) return { ...whole, fields };
    setFieldsOn(res, fields);
    return whole;
  }
  return describeAndDecide(req, res, rep, settings);
}

/** prepareResponse() for the rest: every field set one by one, and RFC 9110's decisions made (rfc9110.ts). */
function describeAndDecide(req: ServeRequest, res: ServeResponse, rep: Representation, settings: Settings): ResponsePlan {
  const method = req.method ?? 'GET';
  const size = rep.stat.size;
  const ranges = settings.acceptRanges && stringHeader(res, 'accept-ranges')?.toLowerCase() !== 'none';
  describe(res, rep, settings, ranges);
  const header = (name: string) => {
    const value = req.headers[name];
    return Array.isArray(value) ? value.join(', ') : value;
  };
  // A status the caller set before (`res.status(404)` then a 404 page, as
  // Express allows): the file is that response's body, whole, with no
  // conditional or range handling, which only a 200 has.
  if (res.statusCode !== 200) {
    res.setHeader('Content-Length', String(size));
    return { statusCode: res.statusCode, parts: size > 0 ? [{ start: 0, end: size - 1 }] : [] };
  }
  // Validators as the response states them: the caller's, if it set its own.
  const validators: Validators = { etag: stringHeader(res, 'etag'), lastModified: stringHeader(res, 'last-modified'), mtimeMs: rep.stat.mtimeMs };

  const precondition = evaluatePreconditions(method, header, validators);
  if (precondition === 412) return failed(res, 412);
  if (precondition === 304) {
    dropFields(res, DROPPED_FIELDS.noBody);
    return { statusCode: 304, parts: [] };
  }

  const decision = ranges ? selectRanges(method, header, validators, size, settings.maxRanges) : { kind: 'whole' as const };
  if (decision.kind === 'unsatisfiable') {
    const p = failed(res, 416);
    res.setHeader('Content-Range', `bytes */${size}`);
    return p;
  }
  if (decision.kind === 'ranges' && decision.ranges.length === 1) {
    const [{ start, end }] = decision.ranges;
    res.setHeader('Content-Range', `bytes ${start}-${end}/${size}`);
    res.setHeader('Content-Length', String(end - start + 1));
    return { statusCode: 206, parts: [{ start, end }] };
  }
  if (decision.kind === 'ranges') {
    const boundary = randomBytes(10).toString('hex');
    const { parts, trailer, length } = multipartFraming(decision.ranges, stringHeader(res, 'content-type'), size, boundary);
    res.setHeader('Content-Type', `multipart/byteranges; boundary=${boundary}`);
    res.setHeader('Content-Length', String(length));
    return { statusCode: 206, parts, trailer };
  }
  res.setHeader('Content-Length', String(size));
  return { statusCode: 200, parts: size > 0 ? [{ start: 0, end: size - 1 }] : [] };
}

/**
 * Answers `req` with an open file: the result when the response is complete
 * at once, else a promise of it. Throws or rejects when it fails.
 */
export function respond(req: ServeRequest, res: ServeResponse, rep: Representation, settings: Settings): ServeResult | Promise<ServeResult> {
  if (res.headersSent) throw headersAlreadySent();
  const p = prepareResponse(req, res, rep, settings);
  if (p.parts.length === 0 || req.method === 'HEAD') return writeStatus(req, res, p.statusCode, p.text);
  const connection = rawConnection(req, res);
  // Over TCP the kernel sends the file. TLS, HTTP/2 and wrapped responses
  // need its bytes in memory anyway: the cache's copy spares the reads.
  if (!connection || isTls(connection)) {
    const contents = rep.opened?.contents();
    if (contents) return writeFromMemory(res, p, contents);
  }
  if (connection) return writeRaw(req as IncomingMessage, res as ServerResponse, rep, p, settings);
  // Not written raw or from memory after all: the fields that waited go on the response now.
  if (p.fields) setFieldsOn(res, p.fields);
  return writeThrough(res, rep.fd, p, settings);
}

function setFieldsOn(res: ServeResponse, fields: PreparedFields): void {
  if (res instanceof ServerResponse) setFields(res, fields);
  else setFieldsH2(res, fields);
}

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
    // A link the symlinks option does not let lead outside the root.
    case 'EXDEV':
      return 403;
    default:
      return undefined;
  }
}
