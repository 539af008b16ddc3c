// Serving's options, each set parsed here and only here, once per handler
// (serveStatic and the adapters) or per call (serveFile): every option is
// checked, a bad one throwing a TypeError or RangeError with a code, and
// turned into what the rest of src/http/ reads. Also the request and
// response types serving accepts.
import type { Stats } from 'node:fs';
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Http2ServerRequest, Http2ServerResponse } from 'node:http2';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend } from '../arguments.js';
import { allBackends } from '../capabilities.js';
import { parseMs } from '../duration.js';
import { invalidArgType, invalidArgValue } from '../errors.js';
import type { Beneath } from '../open-file.js';
import type { FileCacheOptions } from './file-cache.js';
import { resolveSegments, type Dotfiles, type Symlinks } from './root.js';

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
  /**
   * serveFile: what it does with a request it refuses (404: no such file;
   * 403: outside `root`, or a denied dotfile; 400: a NUL in the path):
   * `'respond'` (default) answers it with the status and a short text;
   * `'reject'` writes nothing and rejects with an error shaped like
   * `http-errors`' (`status`, `statusCode`, `expose`, and the file system's
   * `code`), for the framework's own handling: with Express,
   * `serveFile(...).catch(next)` runs its 404 and error handlers, as
   * `res.sendFile` does.
   */
  refusals?: 'respond' | 'reject';
}

export type Encoding = 'br' | 'gzip';

export interface ServeStaticOptions extends Omit<ServeFileOptions, 'signal' | 'contentType' | 'root' | 'download' | 'dotfiles' | 'cache' | 'refusals'> {
  /** Paths with a segment that starts with a dot: `'ignore'` (default: as if absent), `'deny'` (403) or `'allow'`. `.well-known` is always served. */
  dotfiles?: 'allow' | 'deny' | 'ignore';
  /** The file served for a URL ending in `/`; several are tried in order. Default `'index.html'`; `false` for none. */
  index?: string | string[] | false;
  /** Answer a directory's URL without its trailing slash with a 301 to the URL with it. Default true. */
  redirect?: boolean;
  /** Extensions tried, in order, for a URL without one that names no file: `['html']` serves `/about` from `about.html`. Default none. */
  extensions?: string | string[] | false;
  /** Serve `file.br` / `file.gz` beside `file` to clients that accept them, even when `file` itself is absent. `true` means `['br', 'gzip']`, in that order of preference. Default false. */
  precompressed?: boolean | Encoding[];
  /** With a `next` callback: client errors (404, 403, 400, other methods) go to `next()`; false: to `next(err)` with `err.status`. Default true. */
  fallthrough?: boolean;
  /** A single-page app's fallback: a URL path that names nothing and has no extension gets this file (`true`: the index file at the root). Default false. */
  single?: boolean | string;
  /** Answer a folder's URL (with its slash) that has no index file with a listing: HTML, or JSON on `Accept: application/json`. Default false. */
  listing?: boolean;
  /** Keep descriptors, stat results and header values of hot files open (nginx's `open_file_cache`), invalidated by file-change events. Default true; `false` opens every file per request. */
  cache?: boolean | FileCacheOptions;
}

export interface ServeResult {
  statusCode: number;
  /** Body bytes handed to the connection: file bytes plus multipart framing, as nginx's `$body_bytes_sent`. */
  bytesSent: number;
  /** The backend that carried the body: a sendFile() backend, `'response'` when read from the file and written through the response's own write() (HTTP/2, wrapped responses), `'memory'` when written from the contents the open-file cache keeps (HTTPS, HTTP/2, wrapped responses), or undefined without a body. */
  backend?: Backend | 'response' | 'memory';
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

function parseHeaderHooks(o: Pick<ServeFileOptions, 'headers' | 'setHeaders'>, name: string): HeaderHooks {
  if (o.setHeaders !== undefined && typeof o.setHeaders !== 'function') throw invalidArgType(`${name}.setHeaders`, 'a function', o.setHeaders);
  if (o.headers !== undefined && (typeof o.headers !== 'object' || o.headers === null)) throw invalidArgType(`${name}.headers`, 'of type object', o.headers);
  const headers = o.headers && (Object.entries(o.headers).filter(([, v]) => v !== undefined) as HeaderHooks['headers']);
  return { headers: headers?.length ? headers : undefined, setHeaders: o.setHeaders };
}

/** A root given as a path or a `file:` URL (`new URL('./public/', import.meta.url)`), made absolute. */
export function parseRoot(root: unknown, name: string): string {
  if (root instanceof URL) {
    if (root.protocol !== 'file:') throw invalidArgValue(name, root.href, 'must be a file: URL');
    return resolve(fileURLToPath(root));
  }
  if (typeof root !== 'string' || root.length === 0) throw invalidArgType(name, 'a non-empty string or a file: URL', root);
  return resolve(root);
}

function parseDotfiles(value: unknown, name: string, fallback: Dotfiles): Dotfiles {
  if (value === undefined) return fallback;
  if (value !== 'allow' && value !== 'deny' && value !== 'ignore') throw invalidArgValue(name, value, "must be 'allow', 'deny' or 'ignore'");
  return value;
}

/** The `symlinks` option: undefined for `'follow'`, else how links below the root are checked (open-file.ts's openBeneath). */
function parseSymlinks(value: unknown, name: string): Beneath['symlinks'] | undefined {
  if (value === undefined || value === 'follow') return undefined;
  if (value !== 'inside' && value !== 'refuse') throw invalidArgValue(name, value, "must be 'follow', 'inside' or 'refuse'");
  return value;
}

/** The `download` option: undefined (inline), `true` (the served file's own name) or a name to give. */
function parseDownload(value: unknown, name: string): string | true | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true || (typeof value === 'string' && value.length > 0)) return value;
  throw invalidArgType(name, 'a boolean or a non-empty string', value);
}

/** ServeFileOptions, checked: what answering with a file needs, and what comes before it. */
export interface FileServing {
  settings: Settings;
  root: string | undefined;
  dotfiles: Dotfiles;
  download: string | true | undefined;
  hooks: HeaderHooks;
  /** How links below the root are checked, unless they are followed anywhere. */
  symlinks: Beneath['symlinks'] | undefined;
  refusals: 'respond' | 'reject';
}

export function parseFileOptions(options: ServeFileOptions | undefined, name = 'options'): FileServing {
  const settings = parseServeOptions(options, name);
  const o = options ?? {};
  const root = o.root === undefined ? undefined : parseRoot(o.root, `${name}.root`);
  return {
    settings,
    root,
    dotfiles: parseDotfiles(o.dotfiles, `${name}.dotfiles`, root === undefined ? 'allow' : 'ignore'),
    download: parseDownload(o.download, `${name}.download`),
    hooks: parseHeaderHooks(o, name),
    symlinks: parseSymlinks(o.symlinks, `${name}.symlinks`),
    refusals: parseRefusals(o.refusals, `${name}.refusals`),
  };
}

function parseRefusals(value: unknown, name: string): FileServing['refusals'] {
  if (value === undefined) return 'respond';
  if (value !== 'respond' && value !== 'reject') throw invalidArgValue(name, value, "must be 'respond' or 'reject'");
  return value;
}

/** ServeStaticOptions, checked, for a root: what serveStatic and the adapters read. */
export interface StaticServing {
  root: string;
  settings: Settings;
  hooks: HeaderHooks;
  dotfiles: Dotfiles;
  /** Where links below the root may lead, unless anywhere. */
  beneath: Beneath | undefined;
  /** The index file names, tried in order. */
  index: string[];
  /** The extensions tried for a URL without one, each with its dot. */
  extensions: string[];
  /** The precompressed encodings served, in the server's order of preference. */
  precompressed: Encoding[];
  redirect: boolean;
  fallthrough: boolean;
  listing: boolean;
  /** The single-page app's page, if there is one. */
  single: string | undefined;
  /** The open-file cache's options, or false for none. */
  cache: Required<FileCacheOptions> | false;
}

export function parseStaticOptions(root: unknown, options: ServeStaticOptions | undefined): StaticServing {
  const rootDir = parseRoot(root, 'root');
  const o = options ?? {};
  if (typeof o !== 'object') throw invalidArgType('options', 'of type object', o);
  const cache = parseCache(o.cache);
  const index = nameList(o.index, 'options.index', ['index.html']);
  const symlinks = parseSymlinks(o.symlinks, 'options.symlinks');
  return {
    root: rootDir,
    settings: parseServeOptions({ ...o, cache: cache !== false }),
    hooks: parseHeaderHooks(o, 'options'),
    dotfiles: parseDotfiles(o.dotfiles, 'options.dotfiles', 'ignore'),
    beneath: symlinks && { root: rootDir, symlinks },
    index,
    // serve-static takes `'html'`; a leading dot is forgiven.
    extensions: nameList(o.extensions, 'options.extensions', []).map((e) => `.${e.replace(/^\./, '')}`),
    precompressed: parsePrecompressed(o.precompressed),
    redirect: o.redirect !== false,
    fallthrough: o.fallthrough !== false,
    listing: o.listing === true,
    single: parseSingle(o.single, rootDir, index),
    cache,
  };
}

function nameList(value: unknown, name: string, fallback: string[]): string[] {
  if (value === undefined) return fallback;
  if (value === false) return [];
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.some((n) => typeof n !== 'string' || n.length === 0 || n.includes('/') || n.includes('\\'))) {
    throw invalidArgValue(name, value, 'must be a file name, an array of them, or false');
  }
  return list;
}

function parsePrecompressed(value: unknown): Encoding[] {
  const encodings = value === true ? ['br', 'gzip'] : value || [];
  if (!Array.isArray(encodings) || encodings.some((e) => e !== 'br' && e !== 'gzip')) {
    throw invalidArgValue('options.precompressed', value, "must be a boolean or an array of 'br' and 'gzip'");
  }
  return encodings as Encoding[];
}

/** The `single` option: the page a single-page app answers with, inside the root. */
function parseSingle(value: unknown, root: string, index: string[]): string | undefined {
  if (value === undefined || value === false) return undefined;
  if (value === true) {
    if (index.length === 0) throw invalidArgValue('options.single', value, 'needs an index file, or a file name of its own');
    return join(root, index[0]);
  }
  if (typeof value !== 'string') throw invalidArgType('options.single', 'a boolean or a file name', value);
  const contained = resolveSegments(value.split('/'));
  if (!contained.ok || contained.segments.length === 0) throw invalidArgValue('options.single', value, 'must name a file inside root');
  return join(root, ...contained.segments);
}

/** The `cache` option: false, or the cache's options with their defaults (256 files, trusted for 5 s without a stat, 32 MiB of contents). */
function parseCache(value: unknown): Required<FileCacheOptions> | false {
  if (value === false) return false;
  const defaults = { max: 256, validMs: 5000, contentBytes: 32 * 1024 * 1024 };
  if (value === undefined || value === true) return defaults;
  if (typeof value !== 'object' || value === null) throw invalidArgType('options.cache', 'a boolean or an object', value);
  const { max = defaults.max, validMs = defaults.validMs, contentBytes = defaults.contentBytes } = value as FileCacheOptions;
  if (!Number.isSafeInteger(max) || max < 1) throw invalidArgValue('options.cache.max', max, 'must be an integer >= 1');
  if (typeof validMs !== 'number' || !(validMs >= 0)) throw invalidArgValue('options.cache.validMs', validMs, 'must be a number of milliseconds >= 0');
  if (!Number.isSafeInteger(contentBytes) || contentBytes < 0) throw invalidArgValue('options.cache.contentBytes', contentBytes, 'must be an integer >= 0');
  return { max, validMs, contentBytes };
}
