// serveFile(): answers one HTTP request with one file, named by the caller,
// optionally inside a root folder (http/root.ts keeps it there). The
// framework adapters (Fastify's reply.sendFile and reply.download) use the
// same steps through serveFileWith(), which says why it did not answer
// instead of answering 404 itself.
import { invalidArgType, invalidArgValue } from '../errors.js';
import type { Beneath } from '../open-file.js';
import { answer } from './answer.js';
import { FileOpener, type Lookup } from './file-cache.js';
import { responseTurn } from './http1.js';
import { httpError, type Declined, type ServeHooks } from './http-error.js';
import { parseFileOptions, type FileServing, type ServeFileOptions, type ServeRequest, type ServeResponse, type ServeResult } from './options.js';
import { openErrorStatus } from './respond.js';
import { locate } from './root.js';
import { headersAlreadySent, writeError } from './write.js';

// Every serveFile call of the process shares one cache of open files, as
// every request of an nginx worker shares its open_file_cache: a hot file is
// opened once, its descriptor dropped when the file changes.
const shared = new FileOpener(true);
const uncached = new FileOpener(false);
let defaultServing: FileServing | undefined;

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
export function serveFile(req: ServeRequest, res: ServeResponse, path: string | URL, options?: ServeFileOptions): Promise<ServeResult> {
  let outcome: ServeResult | Declined | Promise<ServeResult | Declined>;
  let serving: FileServing;
  try {
    if (typeof req !== 'object' || req === null || typeof req.headers !== 'object') throw invalidArgType('req', 'an http.IncomingMessage or http2.Http2ServerRequest', req);
    if (typeof res !== 'object' || res === null || typeof res.setHeader !== 'function') throw invalidArgType('res', 'an http.ServerResponse or http2.Http2ServerResponse', res);
    const file = checkPath(path);
    // Without options every call means the same: checked once.
    serving = options === undefined ? (defaultServing ??= parseFileOptions(undefined)) : parseFileOptions(options);
    if (res.headersSent) throw headersAlreadySent();
    outcome = serveFileWith(req, res, file, serving);
  } catch (error) {
    return Promise.reject(error);
  }
  const settle = (o: ServeResult | Declined) => ('decline' in o ? refuse(req, res, o, serving.refusals) : o);
  return outcome instanceof Promise ? outcome.then(settle) : Promise.resolve(settle(outcome));
}

/** A refusal, answered with its status, or handed to the caller as an error (the `refusals` option). */
function refuse(req: ServeRequest, res: ServeResponse, declined: Declined, refusals: FileServing['refusals']): Promise<ServeResult> {
  return refusals === 'reject' ? Promise.reject(httpError(declined.decline, declined.cause)) : writeError(req, res, declined.decline);
}

/**
 * serveFile's work once its arguments are checked: answers with the file,
 * or says which status it would refuse the request with (400, 403, 404),
 * having written nothing. `hooks.allowed` judges the path below the root
 * that would be served; `hooks.claim` runs once the file is open, just
 * before the response is touched. In the common case (a file the cache
 * holds, the response's turn now) the answer comes in this tick, else by a promise.
 */
export function serveFileWith(
  req: ServeRequest,
  res: ServeResponse,
  path: string | URL,
  serving: FileServing,
  hooks: ServeHooks = {},
): ServeResult | Declined | Promise<ServeResult | Declined> {
  const located = locate(path, serving.root, serving.dotfiles);
  if (!located.ok) return { decline: located.status };
  if (hooks.allowed && located.below !== undefined && !hooks.allowed(located.below)) return { decline: 404, final: true };
  const opener = serving.settings.cache ? shared : uncached;
  // Links are checked below a root; without one, the path is the caller's own.
  const beneath = serving.symlinks && serving.root !== undefined ? { root: serving.root, symlinks: serving.symlinks } : undefined;
  const turn = responseTurn(req, res);
  const hit = turn ? undefined : opener.lookupNow(located.path, beneath);
  if (hit?.kind === 'file') return answer(req, res, { file: hit.file, path: located.path, name: located.path }, serving, hooks.claim);
  return openAndAnswer(req, res, located.path, { opener, beneath, turn, serving, claim: hooks.claim });
}

/** serveFileWith() once the file must be opened (or the response's turn waited for). */
async function openAndAnswer(
  req: ServeRequest,
  res: ServeResponse,
  path: string,
  how: { opener: FileOpener; beneath: Beneath | undefined; turn: Promise<void> | undefined; serving: FileServing; claim: (() => void) | undefined },
): Promise<ServeResult | Declined> {
  await how.turn;
  let found: Lookup;
  try {
    found = await how.opener.lookup(path, how.beneath);
  } catch (error) {
    const status = openErrorStatus(error);
    if (status === undefined) throw error;
    return { decline: status, cause: error };
  }
  if (found.kind !== 'file') return { decline: 404 };
  return answer(req, res, { file: found.file, path, name: path }, how.serving, how.claim);
}
