// The one place that reaches into node:http's ServerResponse. serveFile
// writes the response head itself, as the `headers` of sendFile(), so that
// a small file and its head leave in one TCP segment; Node must then neither
// write the head again nor add anything after the body, and must still do its
// own bookkeeping ('finish', keep-alive, the next pipelined response).
//
// What this relies on (lib/_http_outgoing.js and lib/_http_server.js, the
// same from Node 20 to 26, which test/serve*.test.ts pass on):
// - `res.writeHead()` renders the status line and every header, including
//   the ones Node adds (Date, Connection, Keep-Alive), into the latin1 string
//   `res._header`, and leaves `res._headerSent` false: the head goes out with
//   the first body write.
// - With `res._headerSent` true, a Content-Length set, no chunked encoding
//   and nothing buffered, `res.end()` writes nothing and emits 'finish' on
//   the next tick; the server then frees the socket for the next response,
//   or ends it when the response was the connection's last.
// - A pipelined response gets its socket only when the one before it has
//   finished: `res.socket` is null until then, and 'socket' is emitted.
// - `res._onPendingData(delta)` adds to the connection's tally of queued
//   response bytes; while it is at or above the socket's highWaterMark, the
//   server stops reading the connection (it checks at each new request, and
//   reads again once the tally falls).
// - The header fields set so far live in an object under the symbol
//   `kOutHeaders`: lower-cased name -> [name, value], null until the first.
//   setFields() writes there when it finds it looking so (checked once, on
//   a response of its own), and otherwise calls setHeader(). takeHead() may
//   put a frozen table there once writeHead() has rendered the fields from
//   an object: from then on setHeader() and its kin throw, and only
//   getHeader() and its kin read it.
import { ServerResponse, STATUS_CODES, validateHeaderName, validateHeaderValue, type IncomingMessage } from 'node:http';
import { Socket } from 'node:net';

interface ResponseInternals {
  _header: string | null;
  _headerSent: boolean;
  chunkedEncoding: boolean;
  outputData: unknown[];
}

const internals = (res: ServerResponse) => res as unknown as ResponseInternals;

type FieldTable = Record<string, [string, unknown]>;

/** node:http's kOutHeaders, if a probe response stores a field there as described above. */
const outHeaders: symbol | undefined = (() => {
  const probe = new ServerResponse({ method: 'GET', httpVersionMajor: 1, httpVersionMinor: 1, headers: {} } as IncomingMessage);
  const symbol = Object.getOwnPropertySymbols(probe).find((s) => s.description === 'kOutHeaders');
  if (symbol === undefined || (probe as unknown as Record<symbol, unknown>)[symbol] !== null) return undefined;
  probe.setHeader('X-Probe', 'v');
  const table = (probe as unknown as Record<symbol, FieldTable | null>)[symbol];
  const entry = table?.['x-probe'];
  return Array.isArray(entry) && entry[0] === 'X-Probe' && entry[1] === 'v' && Object.keys(table!).length === 1 ? symbol : undefined;
})();

/** Header fields checked once, to be set on many responses. */
export interface PreparedFields {
  /** [lower-cased name, name, value, whether it replaces the caller's] each. */
  readonly list: ReadonlyArray<readonly [string, string, string, boolean]>;
  /** The same, as the object writeHead() takes. */
  readonly object: Readonly<Record<string, string>>;
  /** The same, names lower-cased, as HTTP/2 has them (http2.ts). */
  readonly lowerCased: Readonly<Record<string, string>>;
  /** The same, as node:http's own table (frozen): what getHeader() reads once the head is out. */
  readonly table: FieldTable | undefined;
}

/** Checks `fields` (distinct names) as setHeader() would, once, for setFields() or takeHead() to set them without checking again. */
export function prepareFields(fields: ReadonlyArray<readonly [name: string, value: string, replace?: boolean]>): PreparedFields {
  const list = fields.map(([name, value, replace]) => {
    validateHeaderName(name);
    validateHeaderValue(name, value);
    return [name.toLowerCase(), name, value, replace === true] as const;
  });
  const table = Object.create(null) as FieldTable;
  for (const [key, name, value] of list) table[key] = Object.freeze([name, value]) as [string, unknown];
  return {
    list,
    object: Object.fromEntries(fields.map(([name, value]) => [name, value])),
    lowerCased: Object.fromEntries(list.map(([key, , value]) => [key, value])),
    table: outHeaders && Object.freeze(table),
  };
}

/**
 * Sets prepared fields as setHeader() would, at a fraction of its cost: a
 * field the caller has set already stays the caller's, unless it is one
 * that replaces it.
 */
export function setFields(res: ServerResponse, fields: PreparedFields): void {
  if (outHeaders === undefined) {
    for (const [, name, value, replace] of fields.list) if (replace || !res.hasHeader(name)) res.setHeader(name, value);
    return;
  }
  const r = res as unknown as Record<symbol, FieldTable | null>;
  const table = (r[outHeaders] ??= Object.create(null) as FieldTable);
  // A fresh [name, value] per response: appendHeader() changes them in place.
  for (const [key, name, value, replace] of fields.list) if (replace || table[key] === undefined) table[key] = [name, value];
}

/**
 * Whether prepared fields may wait for takeHead() instead of setFields():
 * the response has no field set yet and its writeHead() is Node's own.
 * Node then renders them from one object, which costs less than filling
 * its table field by field, and takeHead() gives the response the frozen
 * table for getHeader() afterwards (setHeader() throws once the head is out).
 */
export function fieldsMayWait(res: ServerResponse): boolean {
  return outHeaders !== undefined && (res as unknown as Record<symbol, FieldTable | null>)[outHeaders] === null && res.writeHead === ServerResponse.prototype.writeHead;
}

/**
 * The connection serveFile may write this response's head and body to
 * itself, or undefined: a node:http response over TCP or TLS whose write,
 * end and writeHead are Node's own (middleware such as `compression` wraps
 * them, and must see the body), and whose internals look as described above.
 */
export function rawConnection(req: unknown, res: unknown): Socket | undefined {
  if (!(res instanceof ServerResponse)) return undefined;
  const r = internals(res);
  const socket = res.socket ?? (req as IncomingMessage).socket;
  const raw =
    (req as IncomingMessage).httpVersionMajor === 1 &&
    socket instanceof Socket &&
    res.write === ServerResponse.prototype.write &&
    res.end === ServerResponse.prototype.end &&
    r._header === null &&
    r._headerSent === false &&
    Array.isArray(r.outputData) &&
    r.outputData.length === 0;
  return raw ? (socket as Socket) : undefined;
}

/**
 * Renders the head of `res` with `statusCode` and the headers set on it,
 * and the `waiting` fields (see fieldsMayWait()), to go out with the body
 * Node writes. The status carries its own reason phrase: Node would take
 * a statusMessage the caller set for another status (Koa sets 'OK' with
 * its 200), and answer `206 OK`. Only the caller's own status keeps the
 * caller's phrase.
 */
export function writeHead(res: ServerResponse, statusCode: number, waiting?: PreparedFields): void {
  const reason = statusCode === res.statusCode && res.statusMessage ? res.statusMessage : STATUS_CODES[statusCode];
  if (!waiting) return void res.writeHead(statusCode, reason);
  res.writeHead(statusCode, reason, waiting.object);
  const table = res as unknown as Record<symbol, FieldTable | null>;
  if (table[outHeaders!] === null) table[outHeaders!] = waiting.table!;
}

/**
 * Renders the head as writeHead() does, and takes it over: Node will not
 * send it. Returns it as Node rendered it, a string whose characters are
 * its latin1 bytes, or undefined when Node rendered it in a way serveFile
 * cannot carry (chunked framing).
 */
export function takeHead(res: ServerResponse, statusCode: number, waiting?: PreparedFields): string | undefined {
  writeHead(res, statusCode, waiting);
  const r = internals(res);
  if (typeof r._header !== 'string' || r.chunkedEncoding) return undefined;
  r._headerSent = true;
  return r._header;
}

/**
 * Counts `bytes` of a response as queued on its connection (negative once
 * they have left), in node:http's own tally of queued response bytes. Node
 * counts its own writes there; the bytes serveFile sends on the socket
 * itself must count too, or a client that pipelines requests and never
 * reads has every one of them parsed and queued.
 */
export function countQueued(res: ServerResponse, bytes: number): void {
  (res as unknown as { _onPendingData?: (delta: number) => void })._onPendingData?.(bytes);
}

/** Completes a response whose head and body serveFile wrote itself. */
export function endTakenOver(res: ServerResponse): void {
  // Node counts no body bytes of ours: its own length check must stay off.
  res.strictContentLength = false;
  res.end();
}

/**
 * Undefined when the response has its turn on its connection now (it has
 * its socket); else a promise that resolves when it does: a pipelined
 * node:http response waits until the responses before it on the connection
 * have finished. Files are opened only then, so that a client pipelining
 * many requests holds one descriptor per connection, not one per request.
 */
export function responseTurn(req: unknown, res: unknown): Promise<void> | undefined {
  if ((res as { socket?: unknown }).socket) return undefined;
  if (!(res instanceof ServerResponse) || !((req as IncomingMessage).socket instanceof Socket)) return Promise.resolve();
  return responseSocket(req as IncomingMessage, res).then(() => {});
}

// Responses waiting for their turn on a connection share one 'close'
// listener: a client may pipeline many requests.
const waiting = new WeakMap<Socket, Set<() => void>>();

function onConnectionClose(connection: Socket, callback: () => void): () => void {
  let callbacks = waiting.get(connection);
  if (!callbacks) {
    const set = new Set<() => void>();
    callbacks = set;
    waiting.set(connection, set);
    connection.once('close', () => {
      waiting.delete(connection);
      for (const cb of set) cb();
    });
  }
  callbacks.add(callback);
  return () => callbacks.delete(callback);
}

/**
 * What a response waiting for its turn counts as queued (see countQueued):
 * about what it holds meanwhile (its request, response and promise), so
 * that sixteen of them reach a socket's default highWaterMark and a flood
 * of pipelined requests stops being read, as queued bodies would stop it.
 */
const WAITING_WEIGHT = 1024;

/** The response's socket, once the responses before it on the connection have finished. */
export function responseSocket(req: IncomingMessage, res: ServerResponse): Promise<Socket> {
  if (res.socket) return Promise.resolve(res.socket);
  const connection = req.socket;
  return new Promise((resolve, reject) => {
    const onClose = () => {
      res.removeListener('socket', onSocket);
      countQueued(res, -WAITING_WEIGHT);
      reject(Object.assign(new Error('The connection closed before the response could be sent'), { code: 'ERR_STREAM_DESTROYED', bytesSent: 0 }));
    };
    if (connection.destroyed) return reject(Object.assign(new Error('The connection closed before the response could be sent'), { code: 'ERR_STREAM_DESTROYED', bytesSent: 0 }));
    const forget = onConnectionClose(connection, onClose);
    const onSocket = (socket: Socket) => {
      forget();
      countQueued(res, -WAITING_WEIGHT);
      resolve(socket);
    };
    countQueued(res, WAITING_WEIGHT);
    res.once('socket', onSocket);
  });
}
