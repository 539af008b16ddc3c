// A serveFile server whose URL paths are routes the tests add as they go:
// each names the file, serveFile's options, and what to do to the response
// first (set headers the caller owns, wrap its writer). Every serveFile
// call's outcome is kept, by path; with `answerRejections`, a rejection
// that left the response untouched is answered 599 with the error's code.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { serveFile, type ServeFileOptions, type ServeResult } from '../../dist/cjs/index.js';
import { eventually } from './waiting.js';

export interface Outcome {
  path: string;
  result?: ServeResult;
  error?: Error & { code?: string; bytesSent?: number };
}

interface Route {
  file: string | URL;
  options?: ServeFileOptions;
  before?: (res: ServerResponse) => void;
}

export class FileRoutes {
  readonly outcomes: Outcome[] = [];
  private readonly routes = new Map<string, Route>();
  private count = 0;

  /** `unrouted` names the file for a path no route has (undefined: every path must have one). */
  constructor(private readonly options: { unrouted?: (path: string) => string | URL; answerRejections?: boolean } = {}) {}

  /** Adds a route for `file` at `/name` (or a path of its own) and returns its path. */
  route(file: string | URL, options?: ServeFileOptions, before?: (res: ServerResponse) => void, name = `r${this.count++}`): string {
    const path = `/${name}`;
    this.routes.set(path, { file, options, before });
    return path;
  }

  /** The request handler: serveFile with the route's file and options. */
  readonly handler = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = req.url!.split('?')[0];
    const r = this.routes.get(path) ?? { file: this.options.unrouted!(path) };
    r.before?.(res);
    const outcome: Outcome = { path };
    this.outcomes.push(outcome);
    try {
      outcome.result = await serveFile(req, res, r.file, r.options);
    } catch (error) {
      outcome.error = error as Outcome['error'];
      if (this.options.answerRejections && !res.headersSent) {
        res.statusCode = 599;
        res.end(String((error as { code?: string }).code));
      }
    }
  };

  /** The outcome of the first serveFile call for `path` made after `outcomes[since]`, once it has settled (default: the last call). */
  async outcomeOf(path: string, since?: number): Promise<Outcome> {
    let found: Outcome | undefined;
    await eventually(() => {
      found = since === undefined ? [...this.outcomes].reverse().find((o) => o.path === path) : this.outcomes.slice(since).find((o) => o.path === path);
      return found !== undefined && (found.result !== undefined || found.error !== undefined);
    }, `serveFile for ${path} to settle`);
    return found!;
  }
}
