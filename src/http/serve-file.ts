// serveFile(): answers one HTTP request with one file, named by the caller,
// optionally inside a root folder (http/root.ts keeps it there). The
// framework adapters (Fastify's reply.sendFile and reply.download) use the
// same steps through serveFileWith(), which says why it did not answer
// instead of answering 404 itself.
import { invalidArgType, invalidArgValue } from '../errors.js';
import { attachment, parseDownload } from './disposition.js';
import { FileOpener, type Lookup } from './file-cache.js';
import { responseTurn } from './http1.js';
import type { Declined } from './http-error.js';
import {
  applyHeaderHooks,
  parseHeaderHooks,
  parseServeOptions,
  type HeaderHooks,
  type ServeFileOptions,
  type ServeRequest,
  type ServeResponse,
  type ServeResult,
  type Settings,
} from './options.js';
import { openErrorStatus, respond } from './respond.js';
import { locate, parseDotfiles, parseRoot, type Dotfiles } from './root.js';
import { headersAlreadySent, writeError } from './write.js';

// Every serveFile call of the process shares one cache of open files, as
// every request of an nginx worker shares its open_file_cache: a hot file is
// opened once, its descriptor dropped when the file changes.
const shared = new FileOpener(true);
const uncached = new FileOpener(false);
let defaultServing: FileServing | undefined;

/** ServeFileOptions, checked: what respond() needs, and what comes before it. */
export interface FileServing {
  settings: Settings;
  root: string | undefined;
  dotfiles: Dotfiles;
  download: string | true | undefined;
  hooks: HeaderHooks;
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
  };
}

function checkPath(path: unknown): string | URL {
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw invalidArgValue('path', path.href, 'must be a file: URL');
    return path;
  }
  if (typeof path === 'string' && path.length > 0) return path;
  throw invalidArgType('path', 'a non-empty string or a file: URL', path);
}

/**
 * Answers an HTTP request with a file: status and headers from the file and
 * the request (conditional requests, ranges), the body by sendFile() on the
 * connection. Resolves when the response is complete.
 */
export async function serveFile(req: ServeRequest, res: ServeResponse, path: string | URL, options?: ServeFileOptions): Promise<ServeResult> {
  if (typeof req !== 'object' || req === null || typeof req.headers !== 'object') throw invalidArgType('req', 'an http.IncomingMessage or http2.Http2ServerRequest', req);
  if (typeof res !== 'object' || res === null || typeof res.setHeader !== 'function') throw invalidArgType('res', 'an http.ServerResponse or http2.Http2ServerResponse', res);
  const file = checkPath(path);
  // Without options every call means the same: checked once.
  const serving = options === undefined ? (defaultServing ??= parseFileOptions(undefined)) : parseFileOptions(options);
  if (res.headersSent) throw headersAlreadySent();
  const outcome = await serveFileWith(req, res, file, serving);
  return 'decline' in outcome ? writeError(req, res, outcome.decline) : outcome;
}

/**
 * serveFile's work once its arguments are checked: answers with the file,
 * or resolves with the status it would refuse the request with (400, 403,
 * 404), having written nothing. `claim` runs once the file is open, just
 * before the response is touched (Fastify's adapter hijacks its reply there).
 */
export async function serveFileWith(
  req: ServeRequest,
  res: ServeResponse,
  path: string | URL,
  serving: FileServing,
  claim?: () => void,
): Promise<ServeResult | Declined> {
  const located = locate(path, serving.root, serving.dotfiles);
  if (!located.ok) return { decline: located.status };
  if (!(res as { socket?: unknown }).socket) await responseTurn(req, res);
  let found: Lookup;
  try {
    const opener = serving.settings.cache ? shared : uncached;
    found = opener.lookupNow(located.path) ?? (await opener.lookup(located.path));
  } catch (error) {
    const status = openErrorStatus(error);
    if (status === undefined) throw error;
    return { decline: status, cause: error };
  }
  if (found.kind !== 'file') return { decline: 404 };
  const { fd, stat, memo } = found.file;
  try {
    claim?.();
    applyHeaderHooks(res, serving.hooks, located.path, stat);
    if (serving.download) res.setHeader('Content-Disposition', attachment(serving.download === true ? located.path : serving.download));
    return await respond(req, res, { fd, stat, memo, opened: found.file, name: located.path }, serving.settings);
  } finally {
    found.file.release();
  }
}
