// The options serveFile and serveStatic share, checked once per call (or
// once per handler), and the request and response types they accept.
import type { Stats } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import type { Backend } from '../arguments.js';
import { allBackends } from '../capabilities.js';
import { parseMs } from '../duration.js';
import { invalidArgType, invalidArgValue } from '../errors.js';
import type { Dotfiles, Symlinks } from './root.js';

export type ServeRequest = IncomingMessage | Http2ServerRequest;
export type ServeResponse = ServerResponse | Http2ServerResponse;

export interface ServeFileOptions {
  /** The folder `path` is resolved in: a path or a `file:` URL. Whatever would leave it is 403. */
  root?: string | URL;
  /** Paths with a segment that starts with a dot (below `root`): `'ignore'` (404; the default with `root`), `'deny'` (403) or `'allow'` (the default without `root`). `.well-known` is always served. */
  dotfiles?: Dotfiles;
  /** Answer as an attachment: `Content-Disposition: attachment` with the file's own name (`true`) or this one, non-ASCII names included (RFC 6266). */
  download?: boolean | string;
  /** `Cache-Control: public, max-age=…`: milliseconds, or a string such as `'1d'` or `'2 hours'` (the `ms` package), as in `send`/`serve-static`; capped at one year (`Infinity` too). Default 0. */
  maxAge?: number | string;
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
  backend?: 'auto' | Backend;
  /** Headers to send with every file served; they win over the computed ones. */
  headers?: OutgoingHttpHeaders;
  /** Called before a file is served with its path and stat, to set more headers; they win over the computed ones. */
  setHeaders?: (res: ServeResponse, path: string, stat: Stats) => void;
  /**
   * Where symbolic links below `root` may lead: `'follow'` (default, as
   * send, sirv and nginx do), `'inside'` (a link that leads outside the
   * root is 403; checked by the open itself, so no race can swap one in),
   * or `'refuse'` (no link is followed: 404, as if absent). Applies below
   * `root`: without one, serveFile's path is the caller's own.
   */
  symlinks?: Symlinks;
  /** serveFile: keep the file open for the next request (a cache shared by every serveFile call, invalidated when the file changes). Default true. */
  cache?: boolean;
}

export interface ServeResult {
  statusCode: number;
  /** Body bytes handed to the connection: file bytes plus multipart framing, as nginx's `$body_bytes_sent`. */
  bytesSent: number;
  /** The backend that carried the body: a sendFile() backend, `'response'` when written through the response's own write() (HTTP/2, wrapped responses), or undefined without a body. */
  backend?: Backend | 'response';
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
  backend: 'auto' | Backend | undefined;
  cache: boolean;
  /** What the header fields of a whole file's 200 depend on among these: equal keys, equal fields for the same file. */
  fieldsKey: string;
}

const ONE_YEAR_MS = 365 * 24 * 60 * 60 * 1000;

export function parseServeOptions(options: ServeFileOptions | undefined, name = 'options'): Settings {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object') throw invalidArgType(name, 'of type object', options);
  const o = options;
  const seconds = Math.floor(Math.min(parseMaxAge(o.maxAge, `${name}.maxAge`), ONE_YEAR_MS) / 1000);
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
  if (o.backend !== undefined && o.backend !== 'auto' && !allBackends.includes(o.backend)) {
    throw invalidArgValue(`${name}.backend`, o.backend, `must be 'auto' or one of ${allBackends.map((b) => `'${b}'`).join(', ')}`);
  }
  const cacheControl = o.cacheControl === false ? undefined : `public, max-age=${seconds}${o.immutable ? ', immutable' : ''}`;
  const etag = tag === false ? false : tag === 'weak' ? 'weak' : 'strong';
  const lastModified = o.lastModified !== false;
  const acceptRanges = o.acceptRanges !== false;
  return {
    cacheControl,
    etag,
    lastModified,
    acceptRanges,
    contentType: o.contentType,
    maxRanges,
    signal: o.signal,
    backend: o.backend,
    cache: o.cache !== false,
    fieldsKey: `${cacheControl}\0${etag}\0${lastModified}\0${acceptRanges}\0${o.contentType}`,
  };
}

/** `maxAge` in milliseconds: a number (`Infinity` included), or a string the `ms` package reads (`'1d'`, `'2 hours'`). */
function parseMaxAge(value: unknown, name: string): number {
  if (value === undefined) return 0;
  const millis = typeof value === 'string' ? parseMs(value) : value;
  if (typeof millis !== 'number' || Number.isNaN(millis) || millis < 0) {
    throw invalidArgValue(name, value, "must be a number of milliseconds >= 0 or a duration such as '1d'");
  }
  return millis;
}

/** What serveFile and serveStatic do to a response before answering with a file: the options `headers` and `setHeaders`, checked. */
export interface HeaderHooks {
  headers: [string, string | number | readonly string[]][] | undefined;
  setHeaders: ((res: ServeResponse, path: string, stat: Stats) => void) | undefined;
}

export function parseHeaderHooks(o: Pick<ServeFileOptions, 'headers' | 'setHeaders'>, name = 'options'): HeaderHooks {
  if (o.setHeaders !== undefined && typeof o.setHeaders !== 'function') throw invalidArgType(`${name}.setHeaders`, 'a function', o.setHeaders);
  if (o.headers !== undefined && (typeof o.headers !== 'object' || o.headers === null)) throw invalidArgType(`${name}.headers`, 'of type object', o.headers);
  const headers = o.headers && (Object.entries(o.headers).filter(([, v]) => v !== undefined) as HeaderHooks['headers']);
  return { headers: headers?.length ? headers : undefined, setHeaders: o.setHeaders };
}

/** Sets the `headers` option's headers, then runs `setHeaders`: both win over what is computed later. */
export function applyHeaderHooks(res: ServeResponse, hooks: HeaderHooks, path: string, stat: Stats): void {
  if (hooks.headers) for (const [field, value] of hooks.headers) res.setHeader(field, value);
  if (hooks.setHeaders) hooks.setHeaders(res, path, stat);
}
