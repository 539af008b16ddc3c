// Answering with a file found for a request: the step serveFile and
// serveStatic share once they hold an open file. The caller's header hooks
// run first (their fields win), then the download name, then respond.ts
// does the rest; the file is given back once the response is done with it.
import type { Stats } from 'node:fs';
import { attachment } from './disposition.js';
import type { OpenedFile } from './file-cache.js';
import type { Encoding, HeaderHooks, ServeRequest, ServeResponse, ServeResult, Settings } from './options.js';
import { respond } from './respond.js';

/** A file found for a request: the open file, its own path, and the name its type comes from with its encoding if it is a compressed sibling. */
export interface Found {
  file: OpenedFile;
  /** The file's own path (`page.html.gz`), as the hooks see it. */
  path: string;
  /** The name the Content-Type comes from (`page.html` for its sibling). */
  name: string;
  encoding?: Encoding;
}

/** What answering needs of the options. */
export interface Answering {
  settings: Settings;
  hooks: HeaderHooks;
  /** Content-Disposition: attachment, with the file's own name (`true`) or this one. */
  download?: string | true;
  /** Whether the answer depends on Accept-Encoding (precompressed siblings are served). */
  varyEncoding?: boolean;
}

/** Sets the `headers` option's headers, then runs `setHeaders`: both win over what is computed later. */
function applyHeaderHooks(res: ServeResponse, hooks: HeaderHooks, path: string, stat: Stats): void {
  if (hooks.headers) for (const [field, value] of hooks.headers) res.setHeader(field, value);
  if (hooks.setHeaders) hooks.setHeaders(res, path, stat);
}

/**
 * Answers with `found`, `claim` first (an adapter takes the response over
 * there), and gives its file back once the response is done: the result
 * at once in the common case, else a promise. Throws or rejects when it fails.
 */
export function answer(req: ServeRequest, res: ServeResponse, found: Found, answering: Answering, claim?: () => void): ServeResult | Promise<ServeResult> {
  const { file } = found;
  let answered: ServeResult | Promise<ServeResult>;
  try {
    claim?.();
    applyHeaderHooks(res, answering.hooks, found.path, file.stat);
    if (answering.download) res.setHeader('Content-Disposition', attachment(answering.download === true ? found.path : answering.download));
    const rep = { fd: file.fd, stat: file.stat, memo: file.memo(found.encoding), opened: file, name: found.name, encoding: found.encoding, varyEncoding: answering.varyEncoding };
    answered = respond(req, res, rep, answering.settings);
  } catch (error) {
    file.release();
    throw error;
  }
  if (!(answered instanceof Promise)) {
    file.release();
    return answered;
  }
  return answered.finally(() => file.release());
}
