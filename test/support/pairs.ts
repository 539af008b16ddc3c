// Connected loopback TCP pairs, both ends in this process, for the receive
// and relay tests: one end is the socket under test, the other the peer
// that sends, reads, ends or resets. Every pair made and still open is
// destroyed by destroyPairs(), so a failing test leaves no connection
// behind (a closed one is forgotten: a soak makes thousands).
import { once } from 'node:events';
import * as net from 'node:net';

export interface Pair {
  /** The accepted end. */
  server: net.Socket;
  /** The connecting end. */
  client: net.Socket;
}

const made = new Set<net.Socket>();

/** A connected pair; `options` apply to both ends (allowHalfOpen, pauseOnConnect for the accepted one). */
export async function tcpPair(options: { allowHalfOpen?: boolean; pauseOnConnect?: boolean } = {}): Promise<Pair> {
  const listener = net.createServer({ allowHalfOpen: options.allowHalfOpen, pauseOnConnect: options.pauseOnConnect });
  listener.listen(0, '127.0.0.1');
  await once(listener, 'listening');
  const accepted = once(listener, 'connection') as Promise<[net.Socket]>;
  const client = net.connect({ port: (listener.address() as net.AddressInfo).port, host: '127.0.0.1', allowHalfOpen: options.allowHalfOpen });
  const [[server]] = await Promise.all([accepted, once(client, 'connect')]);
  listener.close();
  for (const socket of [server, client]) {
    socket.on('error', () => {});
    made.add(socket);
    socket.once('close', () => made.delete(socket));
  }
  return { server, client };
}

/** Destroys every socket tcpPair made. */
export function destroyPairs(): void {
  for (const socket of made) socket.destroy();
  made.clear();
}

/** Everything `socket` receives until its end (or close), and how it ended. */
export function collect(socket: net.Socket): Promise<{ data: Buffer; ended: boolean; error?: Error }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let error: Error | undefined;
    let ended = false;
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', (e) => (error = e));
    // A stream read to its end (by a receive) has said 'end' already.
    if (socket.readableEnded) resolve({ data: Buffer.concat(chunks), ended: true, error });
    socket.on('end', () => {
      ended = true;
      resolve({ data: Buffer.concat(chunks), ended, error });
    });
    socket.on('close', () => resolve({ data: Buffer.concat(chunks), ended, error }));
  });
}

/** Writes `data` in `pieces` parts, `delayMs` apart, then ends (unless `end` is false). */
export async function trickle(socket: net.Socket, data: Buffer, pieces: number, delayMs: number, end = true): Promise<void> {
  const size = Math.ceil(data.length / pieces);
  for (let at = 0; at < data.length; at += size) {
    if (socket.destroyed) return;
    socket.write(data.subarray(at, at + size));
    await new Promise((resolve) => setTimeout(resolve, delayMs));
  }
  if (end && !socket.destroyed) socket.end();
}

/** Resolves once `socket` holds at least `bytes` read and unread bytes (it must be paused). */
export async function buffered(socket: net.Socket, bytes: number): Promise<void> {
  const deadline = Date.now() + 5000;
  while (socket.readableLength < bytes) {
    if (Date.now() > deadline) throw new Error(`the socket holds ${socket.readableLength} of ${bytes} bytes after 5 s`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}
