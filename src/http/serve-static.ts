// serveStatic: a request handler that maps the URL path onto a folder and
// answers with serveFile's logic, for node:http, Connect/Express and HTTP/2;
// http/fastify.ts mounts the same server in Fastify.
import type { Stats } from 'node:fs';
import type { IncomingMessage } from 'node:http';
import { join, resolve, sep } from 'node:path';
import Negotiator from 'negotiator';
import { invalidArgType, invalidArgValue } from '../errors.js';
import { FileOpener, type FileCacheOptions, type OpenedFile } from './file-cache.js';
import { responseTurn } from './http1.js';
import { parseServeOptions, type ServeFileOptions, type ServeRequest, type ServeResponse } from './options.js';
import { openErrorStatus, respond } from './respond.js';
import { isClientGone, writeError } from './write.js';

export type Encoding = 'br' | 'gzip';

export interface ServeStaticOptions extends Omit<ServeFileOptions, 'signal' | 'contentType' | 'cache'> {
  /** Paths with a segment that starts with a dot: `'ignore'` (default: as if absent), `'deny'` (403) or `'allow'`. */
  dotfiles?: 'allow' | 'deny' | 'ignore';
  /** The file served for a URL ending in `/`; several are tried in order. Default `'index.html'`; `false` for none. */
  index?: string | string[] | false;
  /** Answer a directory's URL without its trailing slash with a 301 to the URL with it. Default true. */
  redirect?: boolean;
  /** Serve `file.br` / `file.gz` beside `file` to clients that accept them. `true` means `['br', 'gzip']`, in that order of preference. Default false. */
  precompressed?: boolean | Encoding[];
  /** With a `next` callback: 404s and methods other than GET/HEAD go to `next()` instead of being answered. Default true. */
  fallthrough?: boolean;
  /** Keep descriptors, stat results and header values of hot files open (nginx's `open_file_cache`), invalidated by file-change events. Default true; `false` opens every file per request. */
  cache?: boolean | FileCacheOptions;
  /** Called before a file is served, to set more headers; headers set here win over serveStatic's own. */
  setHeaders?: (res: ServeResponse, path: string, stat: Stats) => void;
}

export type Next = (error?: unknown) => void;

export interface StaticHandler {
  (req: ServeRequest, res: ServeResponse, next?: Next): Promise<void>;
  /** Closes the descriptors the cache holds. */
  close(): Promise<void>;
  /** Descriptors the cache holds open now. */
  readonly cachedFiles: number;
}

/** The longest URL path (decoded, in bytes) and path segment looked up; longer ones are 404, as the file system would say ENAMETOOLONG. */
const MAX_PATH = 4096;
const MAX_SEGMENT = 255;

type Resolved =
  | { ok: true; segments: string[]; trailingSlash: boolean }
  | { ok: false; status: 400 | 403 | 404 };

/**
 * Turns a URL path into path segments under the root, or says why not. No
 * segment that comes out can climb: `..` is refused rather than resolved,
 * and `/`, `\` and NUL cannot appear inside one.
 */
export function resolveUrlPath(pathname: string, dotfiles: 'allow' | 'deny' | 'ignore'): Resolved {
  // A slash or backslash that the client encoded (or a backslash at all)
  // would be a separator to someone: refused rather than guessed at.
  if (/%2f|%5c|\\/i.test(pathname)) return { ok: false, status: 400 };
  const segments: string[] = [];
  let length = 0;
  for (const raw of pathname.split('/')) {
    let segment: string;
    try {
      segment = decodeURIComponent(raw);
    } catch {
      return { ok: false, status: 400 };
    }
    if (segment.includes('\0')) return { ok: false, status: 400 };
    if (segment === '..') return { ok: false, status: 403 };
    if (segment === '' || segment === '.') continue;
    const bytes = Buffer.byteLength(segment);
    length += bytes + 1;
    if (bytes > MAX_SEGMENT || length > MAX_PATH) return { ok: false, status: 404 };
    segments.push(segment);
  }
  if (dotfiles !== 'allow' && segments.some((s) => s.startsWith('.'))) {
    return { ok: false, status: dotfiles === 'deny' ? 403 : 404 };
  }
  return { ok: true, segments, trailingSlash: pathname.endsWith('/') };
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

/** A folder's files, served: what serveStatic and the framework adapters wrap. */
export interface StaticServer {
  /** Answers the request or passes it to `next`; rejects only when it could not answer at all. */
  serve(req: ServeRequest, res: ServeResponse, path: RequestPath, next: Next | undefined): Promise<void>;
  /** Closes the descriptors the cache holds. */
  close(): Promise<void>;
  /** Descriptors the cache holds open now. */
  readonly cachedFiles: number;
}

export function createStaticServer(root: string, options?: ServeStaticOptions): StaticServer {
  if (typeof root !== 'string' || root.length === 0) throw invalidArgType('root', 'a non-empty string', root);
  const o = options ?? {};
  if (typeof o !== 'object') throw invalidArgType('options', 'of type object', o);
  const settings = parseServeOptions({ ...o, cache: o.cache !== false });
  const rootDir = resolve(root);
  const dotfiles = o.dotfiles ?? 'ignore';
  if (!['allow', 'deny', 'ignore'].includes(dotfiles)) throw invalidArgValue('options.dotfiles', dotfiles, "must be 'allow', 'deny' or 'ignore'");
  const index = o.index === false ? [] : typeof o.index === 'string' ? [o.index] : o.index ?? ['index.html'];
  if (!Array.isArray(index) || index.some((name) => typeof name !== 'string' || name.includes('/') || name.includes('\\'))) {
    throw invalidArgValue('options.index', o.index, 'must be a file name, an array of them, or false');
  }
  const precompressed: Encoding[] = o.precompressed === true ? ['br', 'gzip'] : o.precompressed || [];
  if (!Array.isArray(precompressed) || precompressed.some((e) => e !== 'br' && e !== 'gzip')) {
    throw invalidArgValue('options.precompressed', o.precompressed, "must be a boolean or an array of 'br' and 'gzip'");
  }
  const redirect = o.redirect !== false;
  const fallthrough = o.fallthrough !== false;
  const setHeaders = o.setHeaders;
  if (setHeaders !== undefined && typeof setHeaders !== 'function') throw invalidArgType('options.setHeaders', 'a function', setHeaders);
  const opener = new FileOpener(o.cache !== false, typeof o.cache === 'object' ? o.cache : {});
  const suffix: Record<Encoding, string> = { br: '.br', gzip: '.gz' };

  /** Chooses the precompressed sibling of `path` the client accepts, if there is one. */
  async function variant(req: ServeRequest, path: string, original: OpenedFile): Promise<{ file: OpenedFile; encoding?: Encoding }> {
    if (precompressed.length === 0 || req.headers['accept-encoding'] === undefined) return { file: original };
    // Ties in the client's q-values go to the server's order: br, then gzip.
    const preference = [...precompressed, 'identity'];
    const negotiator = new Negotiator(req as IncomingMessage) as unknown as {
      encodings(available: string[], options: { preferred: string[] }): string[];
    };
    const accepted = negotiator.encodings(preference, { preferred: preference });
    for (const encoding of accepted) {
      if (encoding === 'identity') break;
      const sibling = await opener.lookup(path + suffix[encoding as Encoding]).catch(() => undefined);
      if (sibling?.kind === 'file') {
        await original.release();
        return { file: sibling.file, encoding: encoding as Encoding };
      }
    }
    return { file: original };
  }

  async function serve(req: ServeRequest, res: ServeResponse, target: RequestPath, next: Next | undefined): Promise<void> {
    const pass = next && fallthrough;
    const method = req.method ?? 'GET';
    if (!METHODS.has(method)) {
      if (pass) return next();
      await writeError(req, res, 405, { Allow: 'GET, HEAD' });
      return;
    }
    const url = splitUrl(target.pathname);
    if (!url) return void (await writeError(req, res, 400));
    const resolved = resolveUrlPath(url.pathname, dotfiles);
    if (!resolved.ok) {
      if (resolved.status === 404 && pass) return next();
      await writeError(req, res, resolved.status);
      return;
    }
    const path = join(rootDir, ...resolved.segments);
    // Belt and braces: whatever came out of the URL stays inside root.
    if (path !== rootDir && !path.startsWith(rootDir.endsWith(sep) ? rootDir : rootDir + sep)) {
      await writeError(req, res, 403);
      return;
    }

    let file: OpenedFile | undefined;
    let servedPath = path;
    try {
      if (!(res as { socket?: unknown }).socket) await responseTurn(req, res);
      const notFound = async () => {
        if (pass) return next();
        await writeError(req, res, 404);
      };
      if (resolved.trailingSlash) {
        for (const name of index) {
          const candidate = join(path, name);
          const found = await opener.lookup(candidate).catch((error) => fail(error));
          if (found?.kind === 'file') {
            file = found.file;
            servedPath = candidate;
            break;
          }
        }
        if (!file) return await notFound();
      } else {
        const found = await opener.lookup(path).catch((error) => fail(error));
        if (found?.kind === 'directory' && redirect) {
          const original = splitUrl(target.original) ?? url;
          // Collapsed leading slashes: `//evil.example/` would leave the site.
          const location = encodeLocation(`${original.pathname.replace(/^\/+/, '/')}/${original.search}`);
          await writeError(req, res, 301, { Location: location });
          return;
        }
        if (found?.kind !== 'file') return await notFound();
        file = found.file;
      }

      const chosen = await variant(req, servedPath, file);
      file = chosen.file;
      if (setHeaders) setHeaders(res, chosen.encoding ? servedPath + suffix[chosen.encoding] : servedPath, file.stat);
      await respond(
        req,
        res,
        { fd: file.fd, stat: file.stat, memo: file.memo, name: servedPath, encoding: chosen.encoding, varyEncoding: precompressed.length > 0 },
        settings,
      );
    } catch (error) {
      if (isClientGone(error)) return;
      const status = openErrorStatus(error);
      if (status === 404 && pass) return next();
      if (!res.headersSent && status !== undefined) return void (await writeError(req, res, status).catch(() => {}));
      if (next) return next(error);
      if (!res.headersSent) await writeError(req, res, 500).catch(() => {});
      else res.destroy();
    } finally {
      await file?.release();
    }
  }

  return {
    serve,
    close: () => opener.close(),
    get cachedFiles() {
      return opener.size;
    },
  };
}

/** A path that does not exist is no file; any other error opening it is the handler's to report. */
function fail(error: unknown): undefined {
  if (openErrorStatus(error) === 404) return undefined;
  throw error;
}

/**
 * A request handler serving the files under `root`: `handler(req, res, next?)`
 * for node:http, Connect/Express middleware and HTTP/2. It resolves once the
 * request is answered or passed on, and never rejects.
 */
export function serveStatic(root: string, options?: ServeStaticOptions): StaticHandler {
  const server = createStaticServer(root, options);
  const handler = (req: ServeRequest, res: ServeResponse, next?: Next): Promise<void> => {
    const url = req.url ?? '/';
    const original = (req as { originalUrl?: string }).originalUrl ?? url;
    return server.serve(req, res, { pathname: url, original }, next).catch((error) => {
      // Only a failure to answer at all lands here (the client left while an
      // error was being written): nothing is left to tell anyone.
      if (!isClientGone(error)) res.destroy();
    });
  };
  return Object.defineProperties(handler, {
    close: { value: () => server.close() },
    cachedFiles: { get: () => server.cachedFiles },
  }) as unknown as StaticHandler;
}
