// TCP_CORK as the kernel holds it, read with getsockopt(2) by a small
// program (support/tcp-cork.c) that gets a duplicate of the socket: the
// Linux sendfile backend corks a socket for the trailers and must take the
// cork off again, but never the cork its caller put on. Unlike a check of
// segments through ss(8), this cannot pass by being skipped.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import type { Socket } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capabilities, sendFile } from '../dist/cjs/index.js';
import { expectBytes, seededBytes } from './support/bytes.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { exited } from './support/processes.js';
import { startCollector, type Collector } from './support/sockets.js';

const helper = join(__dirname, '..', 'build-test', 'tcp-cork');
let dir: TempDir;
let collector: Collector;

beforeAll(async () => {
  mkdirSync(join(__dirname, '..', 'build-test'), { recursive: true });
  execFileSync('cc', ['-O2', '-o', helper, join(__dirname, 'support', 'tcp-cork.c')]);
  dir = makeTempDir();
  collector = await startCollector();
});
afterAll(async () => {
  await collector?.close();
  dir?.remove();
});

/** TCP_CORK of `socket` (after setting it to `set`, when given). */
async function cork(socket: Socket, set?: 0 | 1): Promise<number> {
  const child = spawn(helper, set === undefined ? [] : [String(set)], { stdio: ['ignore', 'pipe', 'pipe', socket] });
  const { code, stdout, stderr } = await exited(child);
  expect(code, stderr).toBe(0);
  return Number(stdout.trim());
}

describe.runIf(capabilities().headersTrailers === 'cork')('TCP_CORK around a transfer, read with getsockopt', () => {
  const content = seededBytes('cork', 100_000);

  it('is off again after a transfer with trailers, and the bytes are exact', async () => {
    const path = dir.write(content);
    const { socket, received } = await collector.connect();
    expect(await cork(socket)).toBe(0);
    await sendFile(socket, path, { backend: 'sendfile', headers: 'H', trailers: 'T' });
    expect(await cork(socket)).toBe(0);
    socket.end();
    expectBytes((await received).data, Buffer.concat([Buffer.from('H'), content, Buffer.from('T')]));
  });

  it('is on while a large file is under way, and off again once it is sent, the bytes exact', async () => {
    // More than the peer's and our socket buffers hold: the transfer cannot end while the peer reads nothing.
    const large = seededBytes('cork-large', 32 * 1024 * 1024);
    const path = dir.write(large);
    const paused = await startCollector({ paused: true });
    try {
      const { socket, received } = await paused.connect();
      let under: () => void;
      const underWay = new Promise<void>((resolve) => (under = resolve));
      const sent = sendFile(socket, path, { backend: 'sendfile', onProgress: () => under() });
      const peer = await paused.serverSide(socket.localPort!);
      await underWay;
      expect(await cork(socket)).toBe(1);
      peer.resume();
      expect((await sent).bytesSent).toBe(large.length);
      expect(await cork(socket)).toBe(0);
      socket.end();
      expectBytes((await received).data, large);
    } finally {
      await paused.close();
    }
  });

  it("stays on when the caller corked the socket, and the caller's uncork sends everything", async () => {
    const path = dir.write(content);
    const { socket, received } = await collector.connect();
    expect(await cork(socket, 1)).toBe(1);
    await sendFile(socket, path, { backend: 'sendfile', headers: 'H', trailers: 'T' });
    expect(await cork(socket)).toBe(1);
    expect(await cork(socket, 0)).toBe(0);
    socket.end();
    expectBytes((await received).data, Buffer.concat([Buffer.from('H'), content, Buffer.from('T')]));
  });
});
