// Refusals, and the errors that carry them to a framework: when serveStatic
// (or serveFile inside a framework adapter) does not answer a request itself,
// it says why with a status, and the adapter turns that into `next()`,
// `next(err)`, Fastify's not-found or error handler, or Koa's `ctx.throw`.
// The errors are shaped like the `http-errors` package's, which Express,
// Koa and Fastify all read: `status`, `statusCode`, `expose`, a name such as
// `NotFoundError`, and the file system's `code` when one caused it.
import { STATUS_CODES } from 'node:http';

/** Why a request was not answered: the status to answer it with, and the error behind it if any. */
export interface Declined {
  decline: number;
  cause?: unknown;
  /** Refused by the caller's judgement (Fastify's allowedPath): no other root may answer it. */
  final?: boolean;
}

/** What the framework adapters add to serving one request. */
export interface ServeHooks {
  /** Runs just before the response is first touched (Fastify hijacks its reply there). */
  claim?(): void;
  /** Judges the path below the root that would be served (pathBelow()); false refuses the request (404, final). */
  allowed?(below: string): boolean;
}

export interface HttpError extends Error {
  status: number;
  statusCode: number;
  /** Whether the message may be shown to the client: true below 500, as `http-errors` decides. */
  expose: boolean;
  code?: string;
}

/** An error for `status`, named as `http-errors` names it (`NotFoundError`, `ForbiddenError`, …). */
export function httpError(status: number, cause?: unknown): HttpError {
  const message = STATUS_CODES[status] ?? String(status);
  const name = status === 500 ? 'InternalServerError' : `${message.replace(/[^A-Za-z]/g, '')}Error`;
  const error = new Error(message, cause === undefined ? undefined : { cause }) as HttpError;
  const code = (cause as { code?: unknown } | undefined)?.code;
  Object.defineProperty(error, 'name', { value: name, configurable: true, writable: true });
  return Object.assign(error, { status, statusCode: status, expose: status < 500 }, typeof code === 'string' ? { code } : {});
}
