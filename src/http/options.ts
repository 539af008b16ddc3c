// The options serveFile and serveStatic share, checked once per call (or
// once per handler), and the request and response types they accept.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { invalidArgType, invalidArgValue } from '../errors.js';

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
  /** serveFile: keep the file open for the next request (a cache shared by every serveFile call, invalidated when the file changes). Default true. */
  cache?: boolean;
}

export interface ServeResult {
  statusCode: number;
  /** Body bytes handed to the connection: file bytes plus multipart framing, as nginx's `$body_bytes_sent`. */
  bytesSent: number;
  /** The backend that carried the body: a sendFile() backend, `'response'` when written through the response's own write(), or undefined without a body. */
  backend?: string;
}

/** ServeFileOptions, checked and with their defaults. */
export interface Settings {
  cacheControl: string | undefined;
  etag: 'strong' | 'weak' | false;
  lastModified: boolean;
  acceptRanges: boolean;
  contentType: string | undefined;
  maxRanges: number;
  signal: AbortSignal | undefined;
  backend: string | undefined;
  cache: boolean;
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
    cache: o.cache !== false,
  };
}
