// A node:http request's body read straight from its socket, for
// receiveFile: which requests can be, and how the server's parser is kept
// in step, so that the request ends as Node expects and the connection
// serves the next one. What this relies on (lib/_http_server.js,
// lib/_http_common.js, src/node_http_parser.cc; the same from Node 20 to
// 26, which test/receive-http.test.ts passes on):
// - The server's parser reads the socket's handle itself
//   (`parser.consume(handle)`, which sets `_handle._consumed`), and parses
//   each read at once: the head (the 'request' event), then the body bytes
//   that came with it, pushed into the request, in the same call. By the
//   next turn of the event loop every byte read is in the request.
// - `socket.parser.incoming` is the request being parsed, and
//   `parser.execute(bytes)` parses bytes as if they were read (node:http
//   uses it for sockets it does not consume).
// - Up to Node 24 the parser calls its body callback,
//   `parser[HTTPParser.kOnBody]`, only when that is a function: without
//   one, body bytes are counted and not copied. Node 26 keeps the callback
//   it has called once, and copies and pushes what it is fed: the request's
//   push() drops those copies meanwhile.
// - At the body's end the parser completes the request (`complete`, its
//   end pushed) and starts the socket reading again for the next request.
// - `socket._paused`: the server holds the socket itself (responses to
//   pipelined requests pending) and will resume it.
// - `request._consuming` says that someone started reading the body (our
//   own read() sets it): when the response ends, a body nobody consumed is
//   read and dropped (`_dump`), so that the next request can be parsed; a
//   body being consumed is left to its reader.
import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { isTls, takeBuffered, takeReadSide } from '../net-socket.js';

interface Parser {
  incoming: unknown;
  execute(bytes: Buffer): number | Error;
  constructor: { kOnBody?: unknown };
  [slot: number]: unknown;
}

type ServerSocket = Socket & {
  parser?: Parser | null;
  _paused?: boolean;
  _handle?: { fd?: number; _consumed?: boolean } | null;
};

export interface BodyReceiver {
  /** Resolves once the parser has pushed every body byte it read into the request. */
  settled(): Promise<void>;
  /**
   * Takes the body bytes the request holds, and says how many more, up to
   * `count` of the body in all, must come from the socket, and how many
   * the receive should have got in all (`count`, or the body's length).
   */
  take(count: bigint | undefined): { buffered: Buffer[]; fromSocket: bigint; expected: bigint };
  /** Tells the parser about `bytes` of the body read past it, from the socket. */
  consumed(bytes: number): void;
  /** Gives the socket back to Node; a request whose body is complete ends. */
  giveBack(): void;
}

// Parsed in place of the body bytes that went past the parser: only their
// count matters to it.
let zeros: Buffer | undefined;

/**
 * Takes a request's socket, when its body can be read from there: a
 * request of node:http's server, on TCP without TLS, with a
 * Content-Length (not chunked), whose body nobody has read from, and
 * whose socket the parser reads itself. undefined otherwise: the body is
 * read as a stream.
 */
export function bodyReceiver(request: IncomingMessage): BodyReceiver | undefined {
  const socket = request.socket as ServerSocket | null;
  const parser = socket?.parser;
  const length = request.headers['content-length'];
  const eligible =
    socket !== null &&
    !socket.destroyed &&
    !isTls(socket) &&
    typeof socket._handle?.fd === 'number' &&
    socket._handle.fd >= 0 &&
    socket._handle._consumed === true &&
    socket._paused !== true &&
    parser?.incoming === request &&
    typeof parser.execute === 'function' &&
    typeof parser.constructor?.kOnBody === 'number' &&
    typeof request.method === 'string' &&
    typeof length === 'string' &&
    /^\d+$/.test(length) &&
    request.headers['transfer-encoding'] === undefined &&
    !request.readableDidRead &&
    !(request as { _dumped?: boolean })._dumped &&
    request.readableEncoding === null &&
    !request.readableObjectMode;
  if (!eligible) return undefined;
  const total = BigInt(length);
  // The request keeps what the parser pushes from here: flowing, it would
  // give it to its 'data' listeners. Paused only if it flows, and flowing
  // again when given back: a stream paused explicitly would not start
  // flowing for a 'data' listener added later.
  const flowing = request.readableFlowing === true;
  if (flowing) request.pause();
  const consuming = (request as { _consuming?: boolean })._consuming;
  const side = takeReadSide(socket);
  const key = parser.constructor.kOnBody as number;
  return {
    settled: () => new Promise((resolve) => setImmediate(resolve)),
    take(count) {
      // Read from meanwhile, it no longer holds every body byte the parser
      // has seen, and nobody knows how many went past it: nothing is taken.
      if (request.readableDidRead) throw Object.assign(new Error('The request body was read from while receiveFile waited for it'), { code: 'ERR_INVALID_STATE' });
      const buffered = takeBuffered(request);
      const have = BigInt(buffered.reduce((n, b) => n + b.length, 0));
      const want = count !== undefined && count < total ? count : total;
      const fromSocket = request.complete || want <= have ? 0n : want - have;
      return { buffered, fromSocket, expected: count ?? total };
    },
    consumed(bytes) {
      if (bytes === 0 || socket.destroyed || socket.parser !== parser) return;
      zeros ??= Buffer.alloc(256 * 1024);
      const onBody = parser[key];
      parser[key] = undefined;
      const own = Object.hasOwn(request, 'push');
      const push = request.push;
      request.push = function (this: IncomingMessage, chunk: unknown, encoding?: BufferEncoding) {
        return chunk === null ? push.call(this, chunk, encoding) : true;
      };
      try {
        for (let left = bytes; left > 0; ) {
          const n = Math.min(left, zeros.length);
          const result = parser.execute(zeros.subarray(0, n));
          if (result instanceof Error) {
            socket.destroy(result);
            return;
          }
          left -= n;
        }
      } finally {
        parser[key] = onBody;
        if (own) request.push = push;
        else delete (request as { push?: unknown }).push;
      }
    },
    giveBack() {
      if (!socket.destroyed) side.giveBack();
      // Our reads were not the caller's: what is left of a body nobody goes
      // on reading is dropped when the response ends, as Node does.
      (request as { _consuming?: boolean })._consuming = consuming;
      // Its end was pushed when the parser completed it: a request nobody
      // reads further still emits 'end', as Node's own reading would.
      if (flowing || (request.complete && request.readableLength === 0 && !request.readableEnded)) request.resume();
    },
  };
}
