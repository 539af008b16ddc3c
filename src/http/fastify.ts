// Fastify: a plugin with @fastify/static's options and habits. It serves one
// or several roots under a prefix (a wildcard route, or one route per file
// found at startup), decorates `reply.sendFile()` and `reply.download()`,
// and leaves to Fastify what Fastify users expect it to do: misses go to
// `reply.callNotFound()` (so `setNotFoundHandler` applies), refusals to
// `reply.send(err)` (so `setErrorHandler` does). Only a request that will be
// answered with a file, a redirect or a listing is hijacked, then written on
// the raw response with the headers and status the reply already had.
// Fastify stays a dev dependency: only the little of its interface used
// here is declared.
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isAbsolute, sep } from 'node:path';
import { invalidArgType, invalidArgValue } from '../errors.js';
import { httpError, type Declined } from './http-error.js';
import { parseFileOptions, parseRoot, type FileServing, type ServeFileOptions, type ServeResult, type ServeStaticOptions } from './options.js';
import { hidden, type Dotfiles } from './root.js';
import { serveFileWith } from './serve-file.js';
import { createStaticServer, type StaticServer } from './serve-static.js';
import { abandon, isClientGone, writeError } from './write.js';
// For the reply decorators' declaration at the end (a type-only import, gone from the JavaScript).
import type {} from 'fastify';

// Loose: whatever Fastify passes, so that every FastifyInstance fits the little declared here.
type Loose = any;
interface FastifyLike {
  prefix?: string;
  route(options: Loose): unknown;
  addHook(name: 'onClose', hook: Loose): unknown;
  decorateReply(name: string, value: Loose): unknown;
}
interface RequestLike {
  raw: IncomingMessage;
}
interface ReplyLike {
  raw: ServerResponse;
  request: RequestLike;
  statusCode: number;
  hijack(): void;
  callNotFound(): void;
  send(payload?: unknown): unknown;
  getHeaders(): Record<string, number | string | string[] | undefined>;
}

export interface FastifyServeStaticOptions extends Omit<ServeStaticOptions, 'setHeaders'> {
  /** The folder served, a `file:` URL, or several: a URL path is looked up in each in turn, and the first that has it answers. Required unless `serve: false`. */
  root?: string | URL | (string | URL)[];
  /** The URL path the files are served under. Default `'/'`. */
  prefix?: string;
  /** Serve whatever is in the roots at request time through one wildcard route (default), or (`false`) register one route per file found at startup. */
  wildcard?: boolean;
  /** Register no routes, only the reply decorators. Default true. */
  serve?: boolean;
  /** Decorate `reply.sendFile()` and `reply.download()`. Default true; `false` for a second registration. */
  decorateReply?: boolean;
  /** Called with the URL path (decoded, `.` and `..` resolved), the root and the request: false makes the request a miss. */
  allowedPath?: (pathname: string, root: string, request: Loose) => boolean;
  /** Called before a file is served, with the reply (its `header()` works), the file's path and its stat. */
  setHeaders?: (reply: Loose, path: string, stat: Stats) => void;
  /** @fastify/static's name for `precompressed`. */
  preCompressed?: ServeStaticOptions['precompressed'];
  /** @fastify/static's name for `listing` (its formats and templates are not taken: the listing is HTML, or JSON on `Accept: application/json`). */
  list?: boolean | object;
  /** @fastify/static's: with `wildcard: false`, route dotfiles too (`dotfiles: 'allow'` unless `dotfiles` says otherwise). */
  serveDotFiles?: boolean;
  /** Passed to the routes, as @fastify/static passes them. */
  constraints?: Loose;
  logLevel?: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Hide the routes from documentation generators (`schema.hide`). Default true. */
  schemaHide?: boolean;
}

/** What a route or a decorator does with a refusal once the server has said why. */
async function answerDeclined(reply: ReplyLike, declined: Declined, claimed: boolean): Promise<void> {
  const status = declined.decline;
  if (claimed) {
    // Hijacked already (a hook threw, say): no Fastify handler can answer now.
    if (!reply.raw.headersSent) await writeError(reply.request.raw, reply.raw, status).catch(() => abandon(reply.raw));
    else abandon(reply.raw);
  } else if (status === 404) {
    reply.callNotFound();
  } else {
    reply.send(httpError(status, declined.cause));
  }
}

/** Hijacks the reply the first time it is called, carrying over the headers set on it. */
function claimer(reply: ReplyLike): { claim(): void; claimed(): boolean } {
  let claimed = false;
  return {
    claim() {
      if (claimed) return;
      claimed = true;
      copyHeaders(reply);
      reply.hijack();
    },
    claimed: () => claimed,
  };
}

function copyHeaders(reply: ReplyLike): void {
  for (const [name, value] of Object.entries(reply.getHeaders())) if (value !== undefined) reply.raw.setHeader(name, value);
}

/** Whether a URL path has no empty, `.` or `..` segment (raw or percent-encoded) but a leading one and a trailing slash. */
function canonical(url: string): boolean {
  const segments = url.split(/[?#]/, 1)[0].split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i];
    if (segment === '' ? i < segments.length - 1 : /^(?:\.|%2e){1,2}$/i.test(segment)) return false;
  }
  return true;
}

function parseRoots(root: unknown): string[] {
  const list = Array.isArray(root) ? root : [root];
  if (list.length === 0) throw invalidArgValue('options.root', root, 'must name at least one folder');
  const roots = list.map((r, i) => parseRoot(r, Array.isArray(root) ? `options.root[${i}]` : 'options.root'));
  if (new Set(roots).size !== roots.length) throw invalidArgValue('options.root', root, 'must not name the same folder twice');
  return roots;
}

/** The plugin's options, parsed once when it is registered. */
interface Plugin {
  roots: string[];
  /** The plugin's own prefix, without a trailing slash ('' for '/'). */
  prefix: string;
  serveRoutes: boolean;
  wildcard: boolean;
  decorateReply: boolean;
  allowedPath: FastifyServeStaticOptions['allowedPath'];
  /** What reply.sendFile() and reply.download() serve with, but for their own options. */
  fileServing: FileServing;
  /** The options of one root's server. */
  staticOptions: ServeStaticOptions;
  /** The dotfiles option as given, if it was. */
  dotfilesGiven: boolean;
  /** Options for one reply.sendFile() call's own options on top of the plugin's. */
  fileOptions(extra?: Partial<ServeFileOptions>): ServeFileOptions;
  route: { constraints: Loose; logLevel: FastifyServeStaticOptions['logLevel']; schemaHide: boolean };
  /** The reply each raw response being answered belongs to, for setHeaders. */
  replies: WeakMap<object, ReplyLike>;
}

/** @fastify/static's options, translated into serving's own, and checked once. */
function parsePlugin(options: FastifyServeStaticOptions): Plugin {
  if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
  const { root, prefix, wildcard, serve, decorateReply, allowedPath, setHeaders, preCompressed, list, serveDotFiles, constraints, logLevel, schemaHide, contentType, ...shared } =
    options as FastifyServeStaticOptions & { contentType?: unknown };
  const serveRoutes = serve !== false;
  if (allowedPath !== undefined && typeof allowedPath !== 'function') throw invalidArgType('options.allowedPath', 'a function', allowedPath);
  if (setHeaders !== undefined && typeof setHeaders !== 'function') throw invalidArgType('options.setHeaders', 'a function', setHeaders);
  if (prefix !== undefined && (typeof prefix !== 'string' || !prefix.startsWith('/'))) throw invalidArgValue('options.prefix', prefix, "must be a path starting with '/'");
  if (wildcard !== undefined && typeof wildcard !== 'boolean') throw invalidArgType('options.wildcard', 'a boolean', wildcard);
  const roots = serveRoutes || root !== undefined ? parseRoots(root) : [];
  // setHeaders gets the reply, as @fastify/static passes it; what it sets
  // there is carried over to the raw response it is about to answer on.
  const replies = new WeakMap<object, ReplyLike>();
  const hook =
    setHeaders &&
    ((res: Loose, path: string, stats: Stats) => {
      const reply = replies.get(res);
      setHeaders(reply ?? res, path, stats);
      if (reply) copyHeaders(reply);
    });
  // `contentType: false` (send's: set no type) is what happens anyway when
  // the reply has a type: the reply's headers win.
  const common: ServeStaticOptions = {
    ...shared,
    dotfiles: shared.dotfiles ?? (serveDotFiles ? 'allow' : undefined),
    ...(typeof contentType === 'string' ? { contentType } : {}),
    precompressed: shared.precompressed ?? preCompressed,
    listing: shared.listing ?? (list ? true : undefined),
    setHeaders: hook,
  };
  const fileOptions = (extra?: Partial<ServeFileOptions>): ServeFileOptions => ({ ...(common as ServeFileOptions), dotfiles: common.dotfiles ?? 'ignore', ...extra });
  return {
    roots,
    prefix: (prefix ?? '/').replace(/\/+$/, ''),
    serveRoutes,
    wildcard: wildcard !== false,
    decorateReply: decorateReply !== false,
    allowedPath,
    fileServing: parseFileOptions(fileOptions()),
    staticOptions: common,
    dotfilesGiven: shared.dotfiles !== undefined,
    fileOptions,
    route: { constraints, logLevel, schemaHide: schemaHide ?? true },
    replies,
  };
}

/** reply.sendFile() and reply.download(): `path` in the given root, or in each plugin root in turn. */
async function sendFromRoots(plugin: Plugin, reply: ReplyLike, path: string, root: unknown, callOptions: ServeFileOptions | undefined, download: string | undefined): Promise<void> {
  const { claim, claimed } = claimer(reply);
  plugin.replies.set(reply.raw, reply);
  try {
    if (typeof path !== 'string' || path.length === 0) throw invalidArgType('path', 'a non-empty string', path);
    const { root: _r, ...rest } = callOptions ?? {};
    const parsed = callOptions || download ? parseFileOptions(plugin.fileOptions({ ...rest, download })) : plugin.fileServing;
    const candidates = root !== undefined ? [parseRoot(root, 'root')] : plugin.roots;
    if (candidates.length === 0 && !isAbsolute(path)) return reply.callNotFound();
    let declined: Declined = { decline: 404 };
    for (const candidate of candidates.length ? candidates : [undefined]) {
      // Without a root the path is the caller's own: its dot folders are
      // its business unless the dotfiles option says otherwise.
      const serving: FileServing = { ...parsed, root: candidate, dotfiles: candidate || plugin.dotfilesGiven ? parsed.dotfiles : 'allow' };
      const { allowedPath } = plugin;
      const allowed = allowedPath && candidate ? (below: string) => allowedPath(below, candidate, reply.request) : undefined;
      const outcome: ServeResult | Declined = await serveFileWith(reply.request.raw, reply.raw, path, serving, { claim, allowed });
      if (!('decline' in outcome)) return;
      declined = outcome;
      if (outcome.decline !== 404 || outcome.final || claimed()) break;
    }
    await answerDeclined(reply, declined, claimed());
  } catch (error) {
    if (claimed()) {
      if (!isClientGone(error)) abandon(reply.raw);
    } else {
      reply.send(error);
    }
  }
}

/** Decorates replies with sendFile() and download(), as @fastify/static does. */
function decorateReplies(fastify: FastifyLike, plugin: Plugin): void {
  fastify.decorateReply('sendFile', function (this: ReplyLike, path: string, rootOrOptions?: string | URL | (ServeFileOptions & { root?: string | URL }), callOptions?: ServeFileOptions) {
    const opts = typeof rootOrOptions === 'object' && !(rootOrOptions instanceof URL) ? rootOrOptions : callOptions;
    const root = typeof rootOrOptions === 'string' || rootOrOptions instanceof URL ? rootOrOptions : opts?.root;
    void sendFromRoots(plugin, this, path, root, opts, undefined);
    return this;
  });
  fastify.decorateReply('download', function (this: ReplyLike, path: string, nameOrOptions?: string | ServeFileOptions, callOptions?: ServeFileOptions) {
    const opts = typeof nameOrOptions === 'object' ? nameOrOptions : callOptions;
    const name = typeof nameOrOptions === 'string' ? nameOrOptions : path;
    void sendFromRoots(plugin, this, path, opts?.root, opts, name);
    return this;
  });
}

/** The handler of the plugin's routes: the URL below the prefix, served from each root in turn. */
function routeHandler(plugin: Plugin, servers: { root: string; server: StaticServer }[], base: string) {
  return async (request: RequestLike, reply: ReplyLike) => {
    const url = request.raw.url ?? '/';
    // The path below the prefix: '' for the prefix itself, which redirects
    // to the prefix with a trailing slash.
    const pathname = base && url.startsWith(base) ? url.slice(base.length) : url;
    // find-my-way matched the path as it came: a route guarding `/private/*`
    // never saw `/./private/x` or `//private/x`, which would be resolved
    // onto what it guards. Only the canonical form is served.
    if (!canonical(pathname)) return reply.send(httpError(403));
    const { claim, claimed } = claimer(reply);
    plugin.replies.set(reply.raw, reply);
    const { allowedPath } = plugin;
    for (const { root, server } of servers) {
      const allowed = allowedPath && ((below: string) => allowedPath(below, root, request));
      const declined = await server.serve(request.raw, reply.raw, { pathname, original: url }, { claim, allowed });
      if (!declined) return reply;
      if (declined.final) break;
      if (declined.decline !== 404 || claimed()) {
        await answerDeclined(reply, declined, claimed());
        return reply;
      }
    }
    reply.callNotFound();
    return reply;
  };
}

/** Every file below `root` the dotfiles policy lets through, as URL paths relative to it. */
async function filesBelow(root: string, dotfiles: Dotfiles): Promise<string[]> {
  // A root that is not there yet has no routes, as it has no files.
  const found = await readdir(root, { recursive: true }).catch((error) => {
    if (error?.code === 'ENOENT') return [];
    throw error;
  });
  const names = found.map((name) => name.split(sep).join('/'));
  const visible = names.filter((name) => dotfiles === 'allow' || !name.split('/').some(hidden));
  const stats = await Promise.all(visible.map((name) => stat(`${root}/${name}`).catch(() => undefined)));
  return visible.filter((_, i) => stats[i]?.isFile());
}

/** A find-my-way route for a literal path: `:` would start a parameter, `*` a wildcard. */
const literalRoute = (path: string) => (path.includes('*') ? undefined : path.replace(/:/g, '::'));

/**
 * With `wildcard: false`: one route per file present now, and for each
 * folder with an index file its URL with the slash and (for the redirect)
 * without.
 */
async function literalRoutes(plugin: Plugin, servers: { root: string; server: StaticServer }[]): Promise<string[]> {
  const routes = new Set<string>();
  for (const { root, server } of servers) {
    const serving = server.options;
    for (const file of await filesBelow(root, serving.dotfiles)) {
      routes.add(`${plugin.prefix}/${file}`);
      const slash = file.lastIndexOf('/');
      if (serving.index.includes(file.slice(slash + 1))) {
        const folder = `${plugin.prefix}/${file.slice(0, slash + 1)}`;
        routes.add(folder);
        if (serving.redirect && folder.length > 1) routes.add(folder.slice(0, -1));
      }
    }
  }
  return [...routes].flatMap((path) => literalRoute(path) ?? []);
}

/**
 * A Fastify plugin serving `root` under `prefix`:
 * `fastify.register(fastifyServeStatic, { root: './public', prefix: '/static' })`.
 * It applies to the whole application (as fastify-plugin makes
 * @fastify/static do), so `reply.sendFile()` works in every route.
 */
export async function fastifyServeStatic(fastify: FastifyLike, options: FastifyServeStaticOptions): Promise<void> {
  const plugin = parsePlugin(options);
  if (plugin.decorateReply) decorateReplies(fastify, plugin);
  if (!plugin.serveRoutes) return;
  const servers = plugin.roots.map((root) => ({ root, server: createStaticServer(root, plugin.staticOptions) }));
  fastify.addHook('onClose', (_instance: unknown, hookDone: () => void) => {
    Promise.allSettled(servers.map(({ server }) => server.close())).then(() => hookDone());
  });
  // What the raw URL starts with: the prefix this plugin was registered
  // under (inside another plugin's) and its own.
  const base = (fastify.prefix ?? '').replace(/\/+$/, '') + plugin.prefix;
  const handler = routeHandler(plugin, servers, base);
  const { constraints, logLevel, schemaHide } = plugin.route;
  const route = (url: string) => fastify.route({ method: ['GET', 'HEAD'], url, exposeHeadRoute: false, handler, constraints, logLevel, schema: { hide: schemaHide } });
  const urls = plugin.wildcard ? [plugin.prefix || '/', `${plugin.prefix}/*`] : await literalRoutes(plugin, servers);
  for (const url of urls) route(url);
}

// The reply decorators, declared on Fastify's own reply for a user's
// TypeScript (as @fastify/static declares its own); a project without
// Fastify never reads this.
declare module 'fastify' {
  interface FastifyReply {
    /** Serves `path` from the plugin's roots (or `root`), with serveFile's options. */
    sendFile(path: string, rootOrOptions?: string | URL | (ServeFileOptions & { root?: string | URL }), options?: ServeFileOptions): FastifyReply;
    /** sendFile() as an attachment named `name` (default: the file's own name). */
    download(path: string, nameOrOptions?: string | (ServeFileOptions & { root?: string | URL }), options?: ServeFileOptions): FastifyReply;
  }
}

// Like fastify-plugin's mark: registered in the caller's context, not a
// child of it, so the reply decorators reach every route.
Object.assign(fastifyServeStatic, { [Symbol.for('skip-override')]: true, [Symbol.for('fastify.display-name')]: 'zerocopy-static' });
