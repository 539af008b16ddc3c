// The raw HTTP/1.1 writer: a node:http response over TCP or TLS whose head
// and body serveFile sends on the connection itself. node:http renders the
// head (http1.ts takes it over), the transfer core sends it with the file's
// parts (send-now.ts at once when the socket takes it all, send-file.ts
// otherwise), and node:http then ends the response without writing
// anything. The direction is one way: respond.ts -> here -> http1.ts and
// the core.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Backend, TransferPlan } from '../arguments.js';
import type { TransferError } from '../errors.js';
import { sendPlanned, type SendFileResult } from '../send-file.js';
import { rest, sendResponseNow } from '../send-now.js';
import { countQueued, endTakenOver, responseSocket, takeHead } from './http1.js';
import type { ServeResult, Settings } from './options.js';
import { abandon, completion, type ResponsePlan } from './write.js';

/** A raw response's count so far: every byte sent, and how many of them were the head. */
interface RawProgress {
  total: number;
  headLength: number;
  backend?: Backend;
}

type RawFile = { fd: number; opened?: { mapped(): Buffer | undefined } };

const bodySent = (progress: RawProgress) => Math.max(0, progress.total - progress.headLength);

/**
 * Sends the plan's head and parts on the connection itself. In the common
 * case (one part that the socket takes at once) the response is complete
 * when this returns, without a promise.
 */
export function writeRaw(req: IncomingMessage, res: ServerResponse, rep: RawFile, p: ResponsePlan, settings: Settings): ServeResult | Promise<ServeResult> {
  const socket = res.socket;
  const progress: RawProgress = { total: 0, headLength: 0 };
  if (!socket) {
    return responseSocket(req, res).then(
      () => writeRaw(req, res, rep, p, settings),
      (error) => {
        throw rawFailed(res, error, progress);
      },
    );
  }
  try {
    const head = takeHead(res, p.statusCode, p.fields);
    if (!head) throw new Error('serveFile: node:http rendered a head it cannot send raw');
    progress.headLength = head.length;
    for (let i = 0; i < p.parts.length; i++) {
      const sent = sendPart(socket, rep, p, i, head, settings);
      if (sent instanceof Promise) return writeRawRest(res, socket, rep, p, settings, head, i, sent, progress);
      progress.total += sent.bytesSent;
      progress.backend = sent.backend;
    }
  } catch (error) {
    throw rawFailed(res, error, progress);
  }
  // The kernel has it all: the response is as complete as Node's own
  // 'finish' would say (emitted on the next tick), and nothing is left to fail.
  endTakenOver(res);
  return { statusCode: p.statusCode, bytesSent: bodySent(progress), backend: progress.backend };
}

/** writeRaw() from part `from` on, whose sending is under way as `pending`: the socket could not take it all at once. */
async function writeRawRest(
  res: ServerResponse,
  socket: Socket,
  rep: RawFile,
  p: ResponsePlan,
  settings: Settings,
  head: string,
  from: number,
  pending: Promise<SendFileResult>,
  progress: RawProgress,
): Promise<ServeResult> {
  // What the socket could not take at once waits on the driver: queued, as node:http counts it.
  const queued = rawLength(p, head) - progress.total;
  countQueued(res, queued);
  try {
    for (let i = from; i < p.parts.length; i++) {
      const sent = await (i === from ? pending : sendPart(socket, rep, p, i, head, settings));
      progress.total += sent.bytesSent;
      progress.backend = sent.backend;
    }
  } catch (error) {
    throw rawFailed(res, error, progress);
  } finally {
    countQueued(res, -queued);
  }
  const done = completion(res, () => bodySent(progress));
  endTakenOver(res);
  await done;
  return { statusCode: p.statusCode, bytesSent: bodySent(progress), backend: progress.backend };
}

/** Every byte of a raw response: the head, each part with its multipart header, and the closing delimiter. */
function rawLength(p: ResponsePlan, head: string): number {
  let length = head.length + (p.trailer?.length ?? 0);
  for (const part of p.parts) length += part.end - part.start + 1 + (part.header?.length ?? 0);
  return length;
}

/**
 * Part `i` of the plan, the head before the first: at once when the socket
 * takes it all (a lone part with the default settings), else what is left
 * through the socket's queue.
 */
function sendPart(socket: Socket, rep: RawFile, p: ResponsePlan, i: number, head: string, settings: Settings): SendFileResult | Promise<SendFileResult> {
  const part = p.parts[i];
  const count = part.end - part.start + 1;
  const trailers = (i === p.parts.length - 1 && p.trailer) || null;
  if (p.parts.length === 1 && part.header === undefined && settings.signal === undefined && settings.backend === undefined) {
    const mapped = rep.opened?.mapped();
    // The range's bytes over the mapping: with the head, one writev in place of two calls.
    const body = trailers === null && mapped ? (count === mapped.length ? mapped : mapped.subarray(part.start, part.end + 1)) : undefined;
    const now = sendResponseNow(socket, rep.fd, part.start, count, head, trailers, body);
    if (now?.done) return { bytesSent: now.sent, backend: now.backend };
    if (now) return sendRest(socket, rep.fd, partPlan(part, Buffer.from(head, 'latin1'), trailers, settings), now.sent);
  }
  const headBytes = i === 0 ? Buffer.from(head, 'latin1') : undefined;
  const headers = headBytes && part.header ? Buffer.concat([headBytes, part.header]) : (headBytes ?? part.header ?? null);
  return sendPlanned({ kind: 'socket', socket }, { kind: 'fd', fd: rep.fd }, partPlan(part, headers, trailers, settings));
}

/** The transfer of one part: its range, with `headers` before it and `trailers` after. */
function partPlan(part: ResponsePlan['parts'][number], headers: Buffer | null, trailers: Buffer | null, settings: Settings): TransferPlan {
  return {
    offset: BigInt(part.start),
    count: BigInt(part.end - part.start + 1),
    headers,
    trailers,
    signal: settings.signal,
    backend: settings.backend ?? 'auto',
    onProgress: undefined,
    lease: false,
  };
}

/** What the socket did not take of `plan` at once, after its first `sent` bytes, through the socket's queue, where nothing is ahead of it. */
function sendRest(socket: Socket, fd: number, plan: TransferPlan, sent: number): Promise<SendFileResult> {
  const left = rest(plan, { offset: plan.offset, count: plan.count! }, sent);
  return sendPlanned({ kind: 'socket', socket }, { kind: 'fd', fd }, left.plan).then(
    (r) => ({ bytesSent: sent + r.bytesSent, backend: r.backend }),
    (error: TransferError) => {
      throw Object.assign(error, { bytesSent: sent + (error.bytesSent ?? 0) });
    },
  );
}

/** The error of a raw response that failed, counting what the failed step sent. */
function rawFailed(res: ServerResponse, error: unknown, progress: RawProgress): TransferError {
  progress.total += (error as TransferError).bytesSent ?? 0;
  // Node believes the head is out: whatever went, this connection can
  // carry nothing more that a client could frame.
  abandon(res);
  return Object.assign(error as TransferError, { bytesSent: bodySent(progress) });
}
