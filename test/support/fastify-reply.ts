// The reply decorators fastifyServeStatic adds, declared for the tests that
// call them (fastify is a dev dependency, so the package declares none).
import type { ServeFileOptions } from '../../dist/cjs/index.js';

declare module 'fastify' {
  interface FastifyReply {
    sendFile(path: string, rootOrOptions?: string | URL | (ServeFileOptions & { root?: string | URL }), options?: ServeFileOptions): FastifyReply;
    download(path: string, nameOrOptions?: string | ServeFileOptions, options?: ServeFileOptions): FastifyReply;
  }
}
