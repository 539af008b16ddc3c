// serveStatic: a request handler that maps the URL path onto a folder and
// answers with serveFile's logic, for node:http, Connect/Express and HTTP/2,
// with serve-static 2's options and their meaning. createStaticServer() is
// the part the framework adapters share (http/fastify.ts, http/koa.ts): it
// answers what it can and says why it did not answer the rest, and each
// adapter passes that on in its framework's way.
import { extname, join, sep } from 'node:path';
import type { IncomingMessage } from 'node:http';
import Negotiator from 'negotiator';
import { invalidArgType, invalidArgValue } from '../errors.js';
import { FileOpener, type FileCacheOptions, type Lookup, type OpenedFile } from './file-cache.js';
import { responseTurn } from './http1.js';
import { httpError, type Declined, type ServeHooks } from './http-error.js';
import { writeListing } from './listing.js';
import { applyHeaderHooks, parseHeaderHooks, parseServeOptions, type ServeFileOptions, type ServeRequest, type ServeResponse, type ServeResult } from './options.js';
import { HTML_TYPE, PAGE_HEADERS, redirectPage } from './pages.js';
import { openErrorStatus, respond } from './respond.js';
import { hiddenStatus, parseDotfiles, parseRoot, parseSymlinks, pathBelow, resolveSegments, urlSegments } from './root.js';
import { abandon, isClientGone, writeError } from './write.js';

export type Encoding = 'br' | 'gzip';

export interface ServeStaticOptions extends Omit<ServeFileOptions, 'signal' | 'contentType' | 'root' | 'download' | 'dotfiles' | 'cache'> {
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

export type Next = (error?: unknown) => void;

export interface StaticHandler {
  (req: ServeRequest, res: ServeResponse, next?: Next): Promise<void>;
  /** Closes the descriptors the cache holds. */
  close(): Promise<void>;
  /** Descriptors the cache holds open now. */
  readonly cachedFiles: number;
}

function splitUrl(url: string): { pathname: string; search: string } | undefined {
  if (url !== '' && !url.startsWith('/') && !url.startsWith('?')) {
    // The absolute form (`GET http://host/path`): the URL parser resolves dot
    // segments, and never above the root.
    try {
      const parsed = new URL(url);
      return { pathname: parsed.pathname, search: parsed.search };
    } catch {
      return undefined;
    }
  }
  const hash = url.indexOf('#');
  if (hash !== -1) url = url.slice(0, hash);
  const query = url.indexOf('?');
  return query === -1 ? { pathname: url, search: '' } : { pathname: url.slice(0, query), search: url.slice(query) };
}

/** Percent-encodes what may not appear in a Location header, leaving existing escapes alone. */
function encodeLocation(url: string): string {
  return url.replace(/[^\x21-\x7e]|["<>\\^`{|}]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** The path a request asks for under the root, and the URL to redirect relative to. */
export interface RequestPath {
  /** The URL path to map onto the root. */
  pathname: string;
  /** The URL as the client sent it, for redirects (Express: `originalUrl`). */
  original: string;
}

const METHODS = new Set(['GET', 'HEAD']);

/** A file found for a request: the open file, the path its type comes from, and its encoding if it is a compressed sibling. */
interface Found {
  file: OpenedFile;
  path: string;
  encoding?: Encoding;
}

/** A folder's files, served: what serveStatic and the framework adapters wrap. */
export interface StaticServer {
  /**
   * Answers the request, or resolves with why not (404, 403, 400, 405, or a
   * 500 with its cause) having written nothing: at once when the response
   * is complete in this tick, else by a promise. `hooks.allowed` judges the
   * path the URL maps to; `hooks.claim` runs just before the response is
   * first touched. Rejects only when it could not answer at all.
   */
  serve(req: ServeRequest, res: ServeResponse, path: RequestPath, hooks?: ServeHooks): Declined | undefined | Promise<Declined | undefined>;
  /** The `fallthrough` option. */
  readonly fallthrough: boolean;
  /** Closes the descriptors the cache holds. */
  close(): Promise<void>;
  /** Descriptors the cache holds open now. */
  readonly cachedFiles: number;
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

export function createStaticServer(root: string | URL, options?: ServeStaticOptions): StaticServer {
  const rootDir = parseRoot(root, 'root');
  const o = options ?? {};
  if (typeof o !== 'object') throw invalidArgType('options', 'of type object', o);
  const settings = parseServeOptions({ ...o, cache: o.cache !== false });
  const hooks = parseHeaderHooks(o);
  const dotfiles = parseDotfiles(o.dotfiles, 'options.dotfiles', 'ignore');
  const index = nameList(o.index, 'options.index', ['index.html']);
  // serve-static takes `'html'`; a leading dot is forgiven.
  const extensions = nameList(o.extensions, 'options.extensions', []).map((e) => `.${e.replace(/^\./, '')}`);
  const precompressed: Encoding[] = o.precompressed === true ? ['br', 'gzip'] : o.precompressed || [];
  if (!Array.isArray(precompressed) || precompressed.some((e) => e !== 'br' && e !== 'gzip')) {
    throw invalidArgValue('options.precompressed', o.precompressed, "must be a boolean or an array of 'br' and 'gzip'");
  }
  const redirect = o.redirect !== false;
  const fallthrough = o.fallthrough !== false;
  const listing = o.listing === true;
  let single: string | undefined;
  if (o.single === true) {
    if (index.length === 0) throw invalidArgValue('options.single', o.single, 'needs an index file, or a file name of its own');
    single = join(rootDir, index[0]);
  } else if (typeof o.single === 'string') {
    const contained = resolveSegments(o.single.split('/'));
    if (!contained.ok || contained.segments.length === 0) throw invalidArgValue('options.single', o.single, 'must name a file inside root');
    single = join(rootDir, ...contained.segments);
  } else if (o.single !== undefined && o.single !== false) {
    throw invalidArgType('options.single', 'a boolean or a file name', o.single);
  }
  const opener = new FileOpener(o.cache !== false, typeof o.cache === 'object' ? o.cache : {});
  const symlinks = parseSymlinks(o.symlinks, 'options.symlinks');
  const beneath = symlinks && { root: rootDir, symlinks };
  const suffix: Record<Encoding, string> = { br: '.br', gzip: '.gz' };
  const rootPrefix = rootDir.endsWith(sep) ? rootDir : rootDir + sep;

  /** The precompressed encodings the client accepts, best first. */
  function acceptedEncodings(req: ServeRequest): Encoding[] {
    if (precompressed.length === 0 || req.headers['accept-encoding'] === undefined) return [];
    // Ties in the client's q-values go to the server's order: br, then gzip.
    const preference = [...precompressed, 'identity'];
    const negotiator = new Negotiator(req as IncomingMessage) as unknown as {
      encodings(available: string[], options: { preferred: string[] }): string[];
    };
    const accepted = negotiator.encodings(preference, { preferred: preference });
    const identity = accepted.indexOf('identity');
    return (identity === -1 ? accepted : accepted.slice(0, identity)) as Encoding[];
  }

  /** What `path` is; a path that does not exist is nothing (noted in `miss`), any other error opening it is the caller's. */
  function lookup(path: string, miss: Miss): Promise<Lookup | undefined> {
    return opener.lookup(path, beneath).catch((error) => {
      if (openErrorStatus(error) !== 404) throw error;
      miss.cause = error;
      return undefined;
    });
  }

  /** The first compressed sibling of `path` among `encodings` that is a file. */
  async function sibling(path: string, encodings: Encoding[]): Promise<Found | undefined> {
    for (const encoding of encodings) {
      const found = await opener.lookup(path + suffix[encoding], beneath).catch(() => undefined);
      if (found?.kind === 'file') return { file: found.file, path, encoding };
    }
    return undefined;
  }

  /**
   * What `path` is: a file (or the compressed sibling the client prefers),
   * a directory, or nothing; a sibling stands in for a missing original.
   */
  async function lookFor(path: string, encodings: Encoding[], miss: Miss): Promise<Found | 'directory' | undefined> {
    const found = await lookup(path, miss);
    if (found?.kind === 'directory') return 'directory';
    if (found?.kind === 'file') {
      const compressed = encodings.length > 0 ? await sibling(path, encodings) : undefined;
      if (!compressed) return { file: found.file, path };
      found.file.release();
      return compressed;
    }
    return found === undefined && encodings.length > 0 ? sibling(path, encodings) : undefined;
  }

  async function isDirectory(path: string, miss: Miss): Promise<boolean> {
    const found = await lookup(path, miss);
    if (found?.kind === 'file') found.file.release();
    return found?.kind === 'directory';
  }

  /** The first of `paths` that is a file, skipping directories. */
  async function firstFile(paths: string[], encodings: Encoding[], miss: Miss): Promise<Found | undefined> {
    for (const path of paths) {
      const found = await lookFor(path, encodings, miss);
      if (found && found !== 'directory') return found;
    }
    return undefined;
  }

  /** What the URL names under the root, worked out from the URL alone; or why it names nothing that may be served. */
  function mapUrl(target: RequestPath): UrlMapping | Declined {
    const url = splitUrl(target.pathname);
    const raw = url && urlSegments(url.pathname);
    if (!url || !raw) return { decline: 400 };
    // The URL as the client sent it, for a redirect or a listing's title.
    const original = target.original === target.pathname ? url : splitUrl(target.original) ?? url;
    // Mounted at `/static`, `/static` arrives as `/`: it is the folder
    // without its slash, to be redirected, as serve-static has it.
    const trailingSlash = url.pathname.endsWith('/') && !(url.pathname === '/' && !original.pathname.endsWith('/'));
    // A single-page app answers what names nothing with its page; a missing
    // asset (a name with an extension) stays 404.
    const fallback = single !== undefined && extname(raw.filter((s) => s !== '').pop() ?? '') === '' ? single : undefined;
    const resolved = resolveSegments(raw);
    const refused = resolved.ok ? hiddenStatus(resolved.segments, dotfiles) : resolved.status;
    if (refused && !(refused === 404 && fallback)) return { decline: refused };
    const segments = resolved.ok ? resolved.segments : undefined;
    const path = segments && !refused ? join(rootDir, ...segments) : undefined;
    // Belt and braces: whatever came out of the URL stays inside root.
    if (path !== undefined && path !== rootDir && !path.startsWith(rootPrefix)) return { decline: 403 };
    const below = segments && pathBelow(segments, url.pathname.endsWith('/'));
    return { path, below, trailingSlash, fallback, original, belowRoot: path !== undefined && segments!.length > 0 };
  }

  // mapUrl()'s answers for the URLs asked most: a client asks for the same
  // few URLs again and again, and the answer depends on the URL alone. The
  // oldest goes first when it is full.
  const mappings = new Map<string, UrlMapping | Declined>();
  function mapUrlOnce(target: RequestPath): UrlMapping | Declined {
    if (target.original !== target.pathname) return mapUrl(target);
    let mapping = mappings.get(target.pathname);
    if (mapping === undefined) {
      mapping = mapUrl(target);
      if (mappings.size >= MAPPINGS_MAX) mappings.delete(mappings.keys().next().value!);
      mappings.set(target.pathname, mapping);
    }
    return mapping;
  }

  /** Why the answer failed, as serve() reports it: a status while nothing is written, else nothing more to say. */
  function failure(res: ServeResponse, error: unknown): Declined | undefined {
    if (isClientGone(error)) return undefined;
    if (!res.headersSent) return { decline: openErrorStatus(error) ?? 500, cause: error };
    abandon(res);
    return undefined;
  }

  /** Answers with `found`, and gives its file back once the response is done: at once in the common case, else by a promise. */
  function answer(req: ServeRequest, res: ServeResponse, found: Found, claim: (() => void) | undefined): Declined | undefined | Promise<Declined | undefined> {
    const { file, encoding } = found;
    let answered: ServeResult | Promise<ServeResult>;
    try {
      claim?.();
      applyHeaderHooks(res, hooks, encoding ? found.path + suffix[encoding] : found.path, file.stat);
      answered = respond(req, res, { fd: file.fd, stat: file.stat, memo: file.memo(encoding), opened: file, name: found.path, encoding, varyEncoding: precompressed.length > 0 }, settings);
    } catch (error) {
      file.release();
      return failure(res, error);
    }
    if (!(answered instanceof Promise)) {
      file.release();
      return undefined;
    }
    return answered.then(
      () => {
        file.release();
        return undefined;
      },
      (error) => {
        file.release();
        return failure(res, error);
      },
    );
  }

  function serve(req: ServeRequest, res: ServeResponse, target: RequestPath, hooks: ServeHooks = {}): Declined | undefined | Promise<Declined | undefined> {
    if (!METHODS.has(req.method ?? 'GET')) return { decline: 405 };
    const mapping = mapUrlOnce(target);
    if (mapping.decline !== undefined) return mapping;
    // The judged path is the one mapped, and one that maps to none is never waved through.
    if (hooks.allowed && (mapping.below === undefined || !hooks.allowed(mapping.below))) return { decline: 404, final: true };
    const { claim } = hooks;
    // The common case, in this tick: a file the cache holds, no encoding
    // the client accepts to choose among, and the response's turn on its
    // connection. Everything else is looked up by lookFor().
    if (mapping.path !== undefined && !mapping.trailingSlash && (res as { socket?: unknown }).socket && acceptedEncodings(req).length === 0) {
      const hit = opener.lookupNow(mapping.path, beneath);
      if (hit?.kind === 'file') return answer(req, res, { file: hit.file, path: mapping.path }, claim);
    }
    return searchAndAnswer(req, res, mapping, claim);
  }

  /** serve() when the file must be looked for: opened, or chosen among an index, extensions, encodings or a fallback. */
  async function searchAndAnswer(req: ServeRequest, res: ServeResponse, mapping: UrlMapping, claim: (() => void) | undefined): Promise<Declined | undefined> {
    const { path, trailingSlash, fallback } = mapping;
    let found: Found | undefined;
    const miss: Miss = {};
    try {
      if (!(res as { socket?: unknown }).socket) await responseTurn(req, res);
      const encodings = acceptedEncodings(req);
      if (path !== undefined && trailingSlash) {
        found = await firstFile(index.map((name) => join(path, name)), encodings, miss);
        if (!found && listing && (await isDirectory(path, miss))) {
          claim?.();
          await writeListing(req, res, path, decodedPath(mapping.original.pathname), mapping.belowRoot, dotfiles);
          return undefined;
        }
      } else if (path !== undefined) {
        const what = await lookFor(path, encodings, miss);
        if (what === 'directory' && redirect) {
          claim?.();
          // Collapsed leading slashes: `//evil.example/` would leave the site.
          const { pathname, search } = mapping.original;
          const location = encodeLocation(`${pathname.replace(/^\/+/, '/')}/${search}`);
          await writeError(req, res, 301, { Location: location, ...PAGE_HEADERS }, { text: redirectPage(location), type: HTML_TYPE });
          return undefined;
        }
        if (what !== 'directory') found = what;
        if (!found && what === undefined && extensions.length > 0 && extname(path) === '') {
          found = await firstFile(extensions.map((extension) => path + extension), encodings, miss);
        }
      }
      // (path is undefined for an ignored dotfile, which a single-page app still answers.)
      if (!found && fallback) found = await firstFile([fallback], encodings, miss);
      if (!found) return { decline: 404, cause: miss.cause };
      // answer() gives the file back from here on.
      const chosen = found;
      found = undefined;
      return await answer(req, res, chosen, claim);
    } catch (error) {
      return failure(res, error);
    } finally {
      found?.file.release();
    }
  }

  return {
    serve,
    fallthrough,
    close: () => opener.close(),
    get cachedFiles() {
      return opener.size;
    },
  };
}

/** What a URL names under the root. */
interface UrlMapping {
  decline?: undefined;
  /** The file or folder; undefined for an ignored dotfile, which only `fallback` may answer. */
  path: string | undefined;
  /** The URL's path below the root, `.` and `..` resolved (pathBelow()): what a caller judges; undefined for a name too long. */
  below: string | undefined;
  trailingSlash: boolean;
  /** The single-page app's page, for a URL that names nothing and has no extension. */
  fallback: string | undefined;
  /** The URL as the client sent it, split. */
  original: { pathname: string; search: string };
  /** Whether the path lies below the root, not the root itself (a listing's link up). */
  belowRoot: boolean;
}

/** How many URLs' mappings serveStatic keeps. */
const MAPPINGS_MAX = 1024;

/** The last reason a lookup found nothing (ENOENT, ENAMETOOLONG…), for the 404's error. */
interface Miss {
  cause?: unknown;
}

function decodedPath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}

/** What a handler returns for a request answered in its own tick. */
const ANSWERED = Promise.resolve();

/** Passes on what serveStatic did not answer, as its doc says; resolves when that is done. */
async function passOn(server: StaticServer, req: ServeRequest, res: ServeResponse, next: Next | undefined, outcome: Declined | Promise<Declined | undefined>): Promise<void> {
  try {
    const declined = await outcome;
    if (!declined) return;
    const status = declined.decline;
    if (next && status < 500 && server.fallthrough) return next();
    if (next && status !== 405) return next(httpError(status, declined.cause));
    await writeError(req, res, status, status === 405 ? { Allow: 'GET, HEAD' } : undefined);
  } catch (error) {
    // Only a failure to answer at all lands here (the client left while an
    // error was being written): nothing is left to tell anyone.
    if (!isClientGone(error)) abandon(res);
  }
}

/**
 * A request handler serving the files under `root` (a path or a `file:`
 * URL): `handler(req, res, next?)` for node:http, Connect/Express middleware
 * and HTTP/2. Without `next` it answers every request itself; with `next`,
 * what it does not answer goes on as serve-static sends it: client errors to
 * `next()` (with `fallthrough: false`, to `next(err)`, `err.status` set), and
 * failures to `next(err)`. It resolves once the request is answered or
 * passed on, and never rejects.
 */
export function serveStatic(root: string | URL, options?: ServeStaticOptions): StaticHandler {
  const server = createStaticServer(root, options);
  const handler = (req: ServeRequest, res: ServeResponse, next?: Next): Promise<void> => {
    let outcome: Declined | undefined | Promise<Declined | undefined>;
    try {
      const url = req.url ?? '/';
      const original = (req as { originalUrl?: string }).originalUrl ?? url;
      outcome = server.serve(req, res, { pathname: url, original });
    } catch (error) {
      outcome = Promise.reject(error);
    }
    return outcome === undefined ? ANSWERED : passOn(server, req, res, next, outcome);
  };
  return Object.defineProperties(handler, {
    close: { value: () => server.close() },
    cachedFiles: { get: () => server.cachedFiles },
  }) as unknown as StaticHandler;
}
