// The one place that reaches past node:http2's compatibility API. A plain
// whole-file answer from memory goes to the stream itself, with its fields
// as one object, as node:http2 answers from memory (stream.respond() and
// end()): the compatibility layer's per-field checks, its writeHead() and
// its write() cost more than the rest of the response.
//
// What this relies on (lib/internal/http2/compat.js, the same from Node 20
// to 26): an Http2ServerResponse's headersSent is its stream's, and it
// emits 'finish' and 'close' when its stream closes, whoever ended it.
import { Http2ServerResponse } from 'node:http2';
import type { PreparedFields } from './http1.js';

const proto = Http2ServerResponse.prototype;

/**
 * Whether prepared fields may go to the stream with its head: the
 * compatibility API's own response, untouched (no field set yet, its own
 * writeHead, write and end, nothing sent).
 */
export function fieldsMayWaitH2(res: Http2ServerResponse): boolean {
  return res.writeHead === proto.writeHead && res.write === proto.write && res.end === proto.end && !res.headersSent && res.getHeaderNames().length === 0;
}

/** Sets prepared fields on the response, for a writer that goes through it after all. */
export function setFieldsH2(res: Http2ServerResponse, fields: PreparedFields): void {
  for (const [, name, value] of fields.list) res.setHeader(name, value);
}

/** Answers on the response's stream itself: the head with the prepared fields, and `body`, in one go. */
export function respondFromMemory(res: Http2ServerResponse, statusCode: number, fields: PreparedFields, body: Buffer): void {
  res.stream.respond({ ...fields.lowerCased, ':status': statusCode });
  res.stream.end(body);
}
