// HTTP/2 bodies by Node's own Http2Stream.respondWithFD(): the stream reads
// the descriptor in C++ and frames the bytes itself, with no chunk passing
// through JavaScript. It sends one byte range with the head, so serveFile
// uses it for a whole file or a single range on a plain
// Http2ServerResponse; multipart ranges and responses that middleware has
// wrapped go through the response's own write() (http/write.ts).
//
// respondWithFD neither closes the descriptor nor says how many bytes went
// out when the stream is reset: the caller keeps the descriptor open until
// the stream has closed (Node's documented use), and a reset stream's error
// carries no `bytesSent`.
import { constants, Http2ServerResponse } from 'node:http2';
import { AbortError } from '../errors.js';
import type { ServeResult, Settings } from './options.js';
import type { ResponsePlan } from './write.js';

/** Whether `res` is the compatibility API's own response, untouched, on a stream that can still respond. */
export function canRespondWithFD(res: unknown): res is Http2ServerResponse {
  return (
    res instanceof Http2ServerResponse &&
    res.write === Http2ServerResponse.prototype.write &&
    res.end === Http2ServerResponse.prototype.end &&
    !res.headersSent &&
    !res.stream.destroyed
  );
}

/**
 * Sends the plan's one part with the head set on `res`, by respondWithFD.
 * Resolves when the stream has closed cleanly; rejects when it was reset
 * first (the client cancelled, or the signal aborted).
 */
export function respondWithFD(res: Http2ServerResponse, fd: number, p: ResponsePlan, settings: Settings): Promise<ServeResult> {
  const stream = res.stream;
  const [{ start, end }] = p.parts;
  const { signal } = settings;
  return new Promise((resolve, reject) => {
    let aborted = false;
    const onAbort = () => {
      aborted = true;
      stream.close(constants.NGHTTP2_CANCEL);
    };
    stream.once('close', () => {
      signal?.removeEventListener('abort', onAbort);
      if (aborted) return reject(new AbortError(signal?.reason));
      if (stream.rstCode === constants.NGHTTP2_NO_ERROR) return resolve({ statusCode: p.statusCode, bytesSent: end - start + 1, backend: 'respondWithFD' });
      reject(Object.assign(new Error('The HTTP/2 stream was reset before the response was complete'), { code: 'ERR_HTTP2_STREAM_ERROR' }));
    });
    if (signal?.aborted) return onAbort();
    signal?.addEventListener('abort', onAbort, { once: true });
    stream.respondWithFD(fd, { ...res.getHeaders(), ':status': p.statusCode }, { offset: start, length: end - start + 1 });
  });
}
