// zerocopy: send a file to a socket, pipe or file without copying it
// through JavaScript, on every system Node runs on. This file only says what
// the package exports; ARCHITECTURE.md says where each part lives.
export { sendFile, type SendFileResult } from './send-file.js';
export { capabilities, type Capabilities } from './capabilities.js';
export { receiveFile, type ReceiveFileOptions, type ReceiveFileResult, type ReceiveBackend, type ReceiveError } from './receive-file.js';
export { relay, type RelayOptions, type RelayResult, type RelayBackend, type RelayError } from './relay.js';
export type { SendFileOptions, Backend, Chunk, Chunks } from './arguments.js';
export { AbortError, type TransferError } from './errors.js';

// HTTP file serving on top of sendFile().
export { serveFile } from './http/serve-file.js';
export type { ServeFileOptions, ServeResult, ServeRequest, ServeResponse } from './http/options.js';
export { serveStatic, type StaticHandler, type Next } from './http/serve-static.js';
export type { ServeStaticOptions, Encoding } from './http/options.js';
export { fastifyServeStatic, type FastifyServeStaticOptions } from './http/fastify.js';
export { koaServeStatic, type KoaMiddleware, type KoaContextLike } from './http/koa.js';
export type { Dotfiles } from './http/root.js';
export type { ListingEntry } from './http/listing.js';
export type { HttpError } from './http/http-error.js';
export type { FileCacheOptions } from './http/file-cache.js';
