// The writers of a response that go through the response itself: a status
// with a short text (written by Node), and a file body through the
// response's own write() (HTTP/2, wrapped responses); and what every writer
// shares: waiting for completion, abandoning a response that cannot be
// completed. The raw HTTP/1.1 writer is raw.ts.
import { ServerResponse, STATUS_CODES } from 'node:http';
import { constants as http2Constants, Http2ServerResponse } from 'node:http2';
import { AbortError, prematureClose, streamDestroyed, type TransferError } from '../errors.js';
import { sendStream, writeAndWait } from '../stream.js';
import { writeHead, type PreparedFields } from './http1.js';
import { respondFromMemory } from './http2.js';
import type { ServeRequest, ServeResponse, ServeResult, Settings } from './options.js';
import type { Part } from './rfc9110.js';

/** The answer: a status, and the file's parts (or a short text) to send with it. */
export interface ResponsePlan {
  statusCode: number;
  /** File ranges to send, in order; empty for no file body. */
  parts: Part[];
  /** Bytes after the last part (the closing multipart delimiter). */
  trailer?: Buffer;
  /** A short text body instead of file bytes (412, 416). */
  text?: string;
  /** Header fields not set on the response yet, for takeHead() to render (see fieldsMayWait). */
  fields?: PreparedFields;
}

const CLIENT_GONE = new Set(['ERR_STREAM_DESTROYED', 'ERR_STREAM_PREMATURE_CLOSE', 'ECONNRESET', 'EPIPE', 'ABORT_ERR', 'ERR_HTTP2_INVALID_STREAM', 'ERR_HTTP2_STREAM_ERROR']);

/** Whether a serveFile() rejection only says that the client went away (or the signal aborted). */
export function isClientGone(error: unknown): boolean {
  return CLIENT_GONE.has((error as { code?: string })?.code ?? '');
}

/**
 * Ends a response that cannot be completed so that the client can tell it
 * is incomplete: HTTP/1.1 closes the connection (the body falls short of
 * its Content-Length); HTTP/2 resets the stream with INTERNAL_ERROR, as a
 * reset with NO_ERROR (what a plain destroy() sends) reads as a whole response.
 */
export function abandon(res: ServeResponse): void {
  if (res instanceof Http2ServerResponse) res.stream.close(http2Constants.NGHTTP2_INTERNAL_ERROR);
  else res.destroy();
}

/** Writes the head with `statusCode`: HTTP/1.1's with the status's own reason phrase (http1.ts), HTTP/2's as it is. */
function head(res: ServeResponse, statusCode: number, waiting?: PreparedFields): void {
  if (res instanceof ServerResponse) writeHead(res, statusCode, waiting);
  else res.writeHead(statusCode);
}

export function headersAlreadySent(): Error {
  return Object.assign(new Error('Cannot serve a file: the response headers were already sent'), { code: 'ERR_HTTP_HEADERS_SENT' });
}

/** The fields that describe a body: a response without one (304) drops them. */
const BODY_FIELDS = ['content-type', 'content-length', 'content-range', 'content-encoding', 'content-language', 'transfer-encoding'];

/**
 * The fields a response drops when it carries less than the file, the one
 * list of them: no body at all (304); a short text in place of the file
 * (412, 416), which also is no attachment; an error, which is not the file
 * at all, so neither are its validators.
 */
export const DROPPED_FIELDS = {
  noBody: BODY_FIELDS,
  textInstead: [...BODY_FIELDS, 'content-disposition'],
  notTheFile: [...BODY_FIELDS, 'content-disposition', 'etag', 'last-modified'],
} as const;

export function dropFields(res: ServeResponse, names: readonly string[]): void {
  for (const name of names) res.removeHeader(name);
}

/**
 * Resolves when the response has finished; rejects when the connection (or
 * stream) closed first.
 */
export function completion(res: ServeResponse, bytesSent: () => number): Promise<void> {
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
      reject(Object.assign(prematureClose('The connection closed before the response was complete'), { bytesSent: bytesSent() }));
    };
    res.once('finish', onFinish);
    res.once('close', onClose);
  });
}

/** A response without file bytes, written by Node itself: a short text (or a page of `type`). */
export async function writeStatus(req: ServeRequest, res: ServeResponse, statusCode: number, text?: string, type = 'text/plain; charset=utf-8'): Promise<ServeResult> {
  const body = text !== undefined && req.method !== 'HEAD' && statusCode !== 304 ? Buffer.from(text, 'utf8') : undefined;
  if (text !== undefined) {
    res.setHeader('Content-Type', type);
    res.setHeader('Content-Length', String(Buffer.byteLength(text)));
    res.setHeader('X-Content-Type-Options', 'nosniff');
  } else if (statusCode !== 304 && !res.hasHeader('content-length')) {
    res.setHeader('Content-Length', '0');
  }
  const done = completion(res, () => 0);
  head(res, statusCode);
  if (body) res.end(body);
  else res.end();
  await done;
  return { statusCode, bytesSent: body?.length ?? 0 };
}

/** Answers with an error status and a one-line text body (or `page`), dropping what described a file. */
export function writeError(
  req: ServeRequest,
  res: ServeResponse,
  statusCode: number,
  headers?: Record<string, string>,
  page?: { text: string; type: string },
): Promise<ServeResult> {
  dropFields(res, DROPPED_FIELDS.notTheFile);
  for (const [name, value] of Object.entries(headers ?? {})) res.setHeader(name, value);
  return writeStatus(req, res, statusCode, page?.text ?? `${STATUS_CODES[statusCode]}\n`, page?.type);
}

/** Whether a response's write() is its class's own, not one middleware put in its place. */
const isOwnWrite = (res: ServeResponse) => res.write === (res instanceof ServerResponse ? ServerResponse.prototype.write : Http2ServerResponse.prototype.write);

/**
 * Sends the plan through the response's own writeHead() and end(), from
 * the file's contents in memory: head and body in one write, as Node does
 * answering from memory (res.end(buffer)). For TLS, HTTP/2 and wrapped
 * responses, which need the bytes in JavaScript anyway.
 */
export function writeFromMemory(res: ServeResponse, p: ResponsePlan, contents: Buffer): Promise<ServeResult> {
  const bytesSent = p.parts.reduce((n, part) => n + part.end - part.start + 1 + (part.header?.length ?? 0), p.trailer?.length ?? 0);
  const done = completion(res, () => 0);
  const [whole] = p.parts;
  if (res instanceof Http2ServerResponse && p.fields) {
    // A plain GET of the whole file, the response untouched (see respond.ts).
    respondFromMemory(res, p.statusCode, p.fields, whole.start === 0 && whole.end === contents.length - 1 ? contents : contents.subarray(whole.start, whole.end + 1));
    return done.then(() => ({ statusCode: p.statusCode, bytesSent, backend: 'memory' }));
  }
  head(res, p.statusCode, p.fields);
  // (Http2ServerResponse's write and end take the same arguments.)
  const out = res as ServerResponse;
  const [first] = p.parts;
  if (p.parts.length === 1 && !first.header) {
    const body = first.start === 0 && first.end === contents.length - 1 ? contents : contents.subarray(first.start, first.end + 1);
    // Middleware that replaced write() (compression) must see the body.
    if (isOwnWrite(res)) {
      out.end(body);
    } else {
      out.write(body);
      out.end();
    }
  } else {
    for (const part of p.parts) {
      if (part.header) out.write(part.header);
      out.write(contents.subarray(part.start, part.end + 1));
    }
    out.end(p.trailer);
  }
  return done.then(() => ({ statusCode: p.statusCode, bytesSent, backend: 'memory' }));
}

/** Sends the plan through the response's own writeHead()/write()/end(): HTTP/2, wrapped responses. */
export async function writeThrough(res: ServeResponse, fd: number, p: ResponsePlan, settings: Settings): Promise<ServeResult> {
  const sent = { value: 0 };
  // Http2ServerResponse has no `destroyed`: its 'close' is what says so.
  let closed = false;
  const onClose = () => {
    closed = true;
  };
  res.once('close', onClose);
  const { signal } = settings;
  const errors = { closed: () => streamDestroyed(sent.value), aborted: () => new AbortError(signal?.reason, sent.value) };
  // Resolves once the response has taken the chunks, after 'drain' when it asks for one.
  const write = (chunks: Buffer[]) =>
    writeAndWait(res, () => closed || res.destroyed, signal, errors, (settle) => {
      let ok = true;
      for (const chunk of chunks) ok = (res as ServerResponse).write(chunk) && ok;
      if (ok) settle();
      return ok;
    });
  try {
    head(res, p.statusCode);
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
    abandon(res);
    throw Object.assign(error as TransferError, { bytesSent: sent.value });
  } finally {
    res.removeListener('close', onClose);
  }
  const done = completion(res, () => sent.value);
  res.end();
  await done;
  return { statusCode: p.statusCode, bytesSent: sent.value, backend: 'response' };
}
