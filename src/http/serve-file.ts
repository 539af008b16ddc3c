// serveFile(): answers one HTTP request with one file, named by the caller.
import { fileURLToPath } from 'node:url';
import { invalidArgType, invalidArgValue } from '../errors.js';
import { FileOpener, type Lookup } from './file-cache.js';
import { responseTurn } from './http1.js';
import { parseServeOptions, type ServeFileOptions, type ServeRequest, type ServeResponse, type ServeResult } from './options.js';
import { openErrorStatus, respond } from './respond.js';
import { headersAlreadySent, writeError } from './write.js';

// Every serveFile call of the process shares one cache of open files, as
// every request of an nginx worker shares its open_file_cache: a hot file is
// opened once, its descriptor dropped when the file changes.
const shared = new FileOpener(true);
const uncached = new FileOpener(false);

/**
 * Answers an HTTP request with a file: status and headers from the file and
 * the request (conditional requests, ranges), the body by sendFile() on the
 * connection. Resolves when the response is complete.
 */
export async function serveFile(req: ServeRequest, res: ServeResponse, path: string | URL, options?: ServeFileOptions): Promise<ServeResult> {
  if (typeof req !== 'object' || req === null || typeof req.headers !== 'object') throw invalidArgType('req', 'an http.IncomingMessage or http2.Http2ServerRequest', req);
  if (typeof res !== 'object' || res === null || typeof res.setHeader !== 'function') throw invalidArgType('res', 'an http.ServerResponse or http2.Http2ServerResponse', res);
  let file: string;
  if (path instanceof URL) {
    if (path.protocol !== 'file:') throw invalidArgValue('path', path.href, 'must be a file: URL');
    file = fileURLToPath(path);
  } else if (typeof path === 'string' && path.length > 0) {
    file = path;
  } else {
    throw invalidArgType('path', 'a non-empty string or a file: URL', path);
  }
  const settings = parseServeOptions(options);
  if (res.headersSent) throw headersAlreadySent();
  await responseTurn(req, res);
  if (file.includes('\0')) return writeError(req, res, 404);

  let found: Lookup;
  try {
    found = await (settings.cache ? shared : uncached).lookup(file);
  } catch (error) {
    const status = openErrorStatus(error);
    if (status === undefined) throw error;
    return writeError(req, res, status);
  }
  if (found.kind !== 'file') return writeError(req, res, 404);
  const { fd, stat, memo } = found.file;
  try {
    return await respond(req, res, { fd, stat, memo, name: file }, settings);
  } finally {
    await found.file.release();
  }
}
