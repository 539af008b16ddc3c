// Fastify: a plugin that mounts a static server under the prefix it is
// registered with. Fastify stays a dev dependency: only the little of its
// interface used here is declared.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { invalidArgType } from '../errors.js';
import { createStaticServer, type ServeStaticOptions, type StaticServer } from './serve-static.js';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- any FastifyInstance must fit
type Loose = any;
interface FastifyLike {
  prefix?: string;
  route(options: Loose): unknown;
  addHook(name: 'onClose', hook: Loose): unknown;
}

export interface FastifyServeStaticOptions extends ServeStaticOptions {
  root: string;
}

/**
 * A Fastify plugin serving `root` under the prefix it is registered with:
 * `fastify.register(fastifyServeStatic, { root: './public', prefix: '/static' })`.
 * It takes over the raw response (`reply.hijack()`); 404s are answered by
 * serveStatic, not Fastify's not-found handler.
 */
export function fastifyServeStatic(fastify: FastifyLike, options: FastifyServeStaticOptions, done: (error?: Error) => void): void {
  let server: StaticServer;
  try {
    if (typeof options !== 'object' || options === null) throw invalidArgType('options', 'of type object', options);
    server = createStaticServer(options.root, options);
  } catch (error) {
    return done(error as Error);
  }
  const prefix = (fastify.prefix ?? '').replace(/\/+$/, '');
  const route = async (request: { raw: IncomingMessage }, reply: { raw: ServerResponse; hijack(): void }) => {
    reply.hijack();
    const url = request.raw.url ?? '/';
    // The path below the prefix: '' for the prefix itself, which redirects
    // to the prefix with a trailing slash.
    const pathname = prefix && url.startsWith(prefix) ? url.slice(prefix.length) : url;
    await server.serve(request.raw, reply.raw, { pathname, original: url }, undefined).catch(() => reply.raw.destroy());
  };
  fastify.route({ method: ['GET', 'HEAD'], url: '/', exposeHeadRoute: false, handler: route });
  fastify.route({ method: ['GET', 'HEAD'], url: '/*', exposeHeadRoute: false, handler: route });
  fastify.addHook('onClose', (_instance: unknown, hookDone: () => void) => {
    server.close().then(() => hookDone(), () => hookDone());
  });
  done();
}
