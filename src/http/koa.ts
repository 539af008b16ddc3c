// Koa: koaServeStatic(root, options), a middleware in koa-static's place. It
// answers what it finds under root (ranges, conditional requests, HEAD,
// redirects) on the raw response, with `ctx.respond = false` so that Koa
// writes nothing after it, and passes misses and other methods to `next()`;
// other refusals (403, 400) are thrown as errors with `status`, which Koa
// answers. Koa stays a dev dependency: only the little of its context used
// here is declared.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { httpError } from './http-error.js';
import type { ServeStaticOptions } from './options.js';
import { createStaticServer } from './serve-static.js';

/** The part of Koa's context the middleware uses. */
export interface KoaContextLike {
  req: IncomingMessage;
  res: ServerResponse;
  method: string;
  url: string;
  originalUrl: string;
  respond?: boolean;
}

export type KoaMiddleware = ((ctx: KoaContextLike, next: () => Promise<unknown>) => Promise<void>) & {
  /** Closes the descriptors the cache holds. */
  close(): Promise<void>;
};

/**
 * A Koa middleware serving the files under `root`, with serveStatic's
 * options: `app.use(koaServeStatic('./public'))`. Mounted with koa-mount,
 * paths are below the mount point and redirects keep it.
 */
export function koaServeStatic(root: string | URL, options?: ServeStaticOptions): KoaMiddleware {
  // koa-static serves `.br` and `.gz` siblings unless told not to (its brotli and gzip options): so do we.
  const server = createStaticServer(root, { precompressed: true, ...options });
  const middleware = async (ctx: KoaContextLike, next: () => Promise<unknown>): Promise<void> => {
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') return void (await next());
    const claim = () => {
      ctx.respond = false;
      // Koa starts every response at 404 until a body is set.
      ctx.res.statusCode = 200;
    };
    const declined = await server.serve(ctx.req, ctx.res, { pathname: ctx.url, original: ctx.originalUrl }, { claim });
    if (!declined) return;
    if (declined.decline === 404) return void (await next());
    throw httpError(declined.decline, declined.cause);
  };
  return Object.assign(middleware, { close: () => server.close() });
}
