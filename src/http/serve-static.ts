// serveStatic: a request handler that maps the URL path onto a folder and
// answers with serveFile's logic, for node:http, Connect/Express and HTTP/2,
// with serve-static 2's options and their meaning. createStaticServer() is
// the part the framework adapters share (http/fastify.ts, http/koa.ts): it
// answers what it can and says why it did not answer the rest, and each
// adapter passes that on in its framework's way. Its parts: options.ts
// parses the options, url-map.ts maps the URL, find.ts searches for the
// file, answer.ts answers with it.
import { extname, join } from 'node:path';
import { answer, type Answering, type Found } from './answer.js';
import { FileOpener } from './file-cache.js';
import { Finder, type Miss } from './find.js';
import { responseTurn } from './http1.js';
import { httpError, type Declined, type ServeHooks } from './http-error.js';
import { writeListing } from './listing.js';
import { parseStaticOptions, type Encoding, type ServeRequest, type ServeResponse, type ServeStaticOptions, type StaticServing } from './options.js';
import { HTML_TYPE, PAGE_HEADERS, redirectPage } from './pages.js';
import { openErrorStatus } from './respond.js';
import { decodedPath, folderLocation, UrlMapper, type RequestPath, type UrlMapping } from './url-map.js';
import { abandon, isClientGone, writeError } from './write.js';

export type { RequestPath } from './url-map.js';

export type Next = (error?: unknown) => void;

export interface StaticHandler {
  (req: ServeRequest, res: ServeResponse, next?: Next): Promise<void>;
  /** Closes the descriptors the cache holds. */
  close(): Promise<void>;
  /** Descriptors the cache holds open now. */
  readonly cachedFiles: number;
}

const METHODS = new Set(['GET', 'HEAD']);

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
  /** Its options, parsed. */
  readonly options: StaticServing;
  /** Closes the descriptors the cache holds. */
  close(): Promise<void>;
  /** Descriptors the cache holds open now. */
  readonly cachedFiles: number;
}

/** Why an answer failed, as serve() reports it: a status while nothing is written, else nothing more to say. */
function failure(res: ServeResponse, error: unknown): Declined | undefined {
  if (isClientGone(error)) return undefined;
  if (!res.headersSent) return { decline: openErrorStatus(error) ?? 500, cause: error };
  abandon(res);
  return undefined;
}

class StaticFiles implements StaticServer {
  private readonly opener: FileOpener;
  private readonly mapper: UrlMapper;
  private readonly finder: Finder;
  private readonly answering: Answering;

  constructor(readonly options: StaticServing) {
    const serving = options;
    this.opener = new FileOpener(serving.cache !== false, serving.cache || undefined);
    this.mapper = new UrlMapper(serving);
    this.finder = new Finder(this.opener, serving);
    this.answering = { settings: serving.settings, hooks: serving.hooks, varyEncoding: serving.precompressed.length > 0 };
  }

  get cachedFiles(): number {
    return this.opener.size;
  }

  close(): Promise<void> {
    return this.opener.close();
  }

  serve(req: ServeRequest, res: ServeResponse, target: RequestPath, hooks: ServeHooks = {}): Declined | undefined | Promise<Declined | undefined> {
    if (!METHODS.has(req.method ?? 'GET')) return { decline: 405 };
    const mapping = this.mapper.map(target);
    if (mapping.decline !== undefined) return mapping;
    // The judged path is the one mapped, and one that maps to none is never waved through.
    if (hooks.allowed && (mapping.below === undefined || !hooks.allowed(mapping.below))) return { decline: 404, final: true };
    const turn = responseTurn(req, res);
    // The common case, in this tick: a file the cache holds, no encoding
    // the client accepts to choose among, and the response's turn on its
    // connection. Everything else is searched for.
    if (!turn && mapping.path !== undefined && !mapping.trailingSlash && this.finder.acceptedEncodings(req).length === 0) {
      const hit = this.finder.fileNow(mapping.path);
      if (hit) return this.answer(req, res, hit, hooks.claim);
    }
    return this.searchAndAnswer(req, res, mapping, turn, hooks.claim);
  }

  /** Answers with `found`: undefined once answered (at once in the common case, else by a promise), or why not. */
  private answer(req: ServeRequest, res: ServeResponse, found: Found, claim: (() => void) | undefined): Declined | undefined | Promise<Declined | undefined> {
    let answered;
    try {
      answered = answer(req, res, found, this.answering, claim);
    } catch (error) {
      return failure(res, error);
    }
    return answered instanceof Promise ? answered.then(() => undefined, (error) => failure(res, error)) : undefined;
  }

  /** serve() when the file must be looked for: opened, or chosen among an index, extensions, encodings or a fallback. */
  private async searchAndAnswer(req: ServeRequest, res: ServeResponse, mapping: UrlMapping, turn: Promise<void> | undefined, claim: (() => void) | undefined): Promise<Declined | undefined> {
    let found: Found | undefined;
    const miss: Miss = {};
    try {
      await turn;
      const encodings = this.finder.acceptedEncodings(req);
      const { path, trailingSlash, fallback } = mapping;
      if (path !== undefined && trailingSlash) {
        found = await this.finder.firstFile(this.options.index.map((name) => join(path, name)), encodings, miss);
        if (!found && this.options.listing && (await this.finder.isDirectory(path, miss))) {
          claim?.();
          await writeListing(req, res, path, decodedPath(mapping.original.pathname), mapping.belowRoot, this.options.dotfiles);
          return undefined;
        }
      } else if (path !== undefined) {
        const what = await this.finder.lookFor(path, encodings, miss);
        if (what === 'directory' && this.options.redirect) {
          claim?.();
          const location = folderLocation(mapping.original);
          await writeError(req, res, 301, { Location: location, ...PAGE_HEADERS }, { text: redirectPage(location), type: HTML_TYPE });
          return undefined;
        }
        if (what !== 'directory') found = what;
        if (!found && what === undefined) found = await this.withExtension(path, encodings, miss);
      }
      // (path is undefined for an ignored dotfile, which a single-page app still answers.)
      if (!found && fallback) found = await this.finder.firstFile([fallback], encodings, miss);
      if (!found) return { decline: 404, cause: miss.cause };
      // answer() gives the file back from here on.
      const chosen = found;
      found = undefined;
      return await this.answer(req, res, chosen, claim);
    } catch (error) {
      return failure(res, error);
    } finally {
      found?.file.release();
    }
  }

  /** The `extensions` option: `path` with each extension in turn, for a path without one that names nothing. */
  private withExtension(path: string, encodings: Encoding[], miss: Miss): Promise<Found | undefined> | undefined {
    const { extensions } = this.options;
    if (extensions.length === 0 || extname(path) !== '') return undefined;
    return this.finder.firstFile(extensions.map((extension) => path + extension), encodings, miss);
  }
}

/** A folder's files, served: what serveStatic and the framework adapters wrap. */
export function createStaticServer(root: string | URL, options?: ServeStaticOptions): StaticServer {
  return new StaticFiles(parseStaticOptions(root, options));
}

/** What a handler returns for a request answered in its own tick. */
const ANSWERED = Promise.resolve();

/** Passes on what serveStatic did not answer, as its doc says; resolves when that is done. */
async function passOn(server: StaticServer, req: ServeRequest, res: ServeResponse, next: Next | undefined, outcome: Declined | Promise<Declined | undefined>): Promise<void> {
  try {
    const declined = await outcome;
    if (!declined) return;
    const status = declined.decline;
    if (next && status < 500 && server.options.fallthrough) return next();
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
