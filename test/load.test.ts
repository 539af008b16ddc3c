// Load: a thousand transfers at once to peers that read at different
// speeds (at once, 8 MB/s, 2 MB/s, 512 KB/s, in a process of their own),
// on every native backend. All must complete byte for byte while the event
// loop stays free; its delay (perf_hooks.monitorEventLoopDelay) is printed,
// never asserted: speed belongs to the benchmarks.
import * as net from 'node:net';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { capabilities, sendFile } from '../dist/cjs/index.js';
import { KiB, makeRng, pickSeed, seededBytes, sha256 } from './support/bytes.js';
import { descriptorsOpenedSince, openDescriptors } from './support/descriptors.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { SoakPeer } from './support/soak-peer.js';
import { eventually, within } from './support/waiting.js';

const TRANSFERS = Number(process.env.ZEROCOPY_LOAD_TRANSFERS ?? 1000);
const NATIVE = capabilities().backends.filter((b) => b !== 'stream');

let dir: TempDir;
beforeAll(() => {
  dir = makeTempDir('zerocopy-load-');
});
afterAll(() => dir?.remove());

describe('load', () => {
  it(`${TRANSFERS} transfers at once to peers reading at four speeds complete byte for byte`, { timeout: 180_000 }, async () => {
    const seed = pickSeed();
    onTestFailed(() => console.error(`load seed ${seed}: rerun with ZEROCOPY_TEST_SEED=${seed}`));
    const rng = makeRng(seed);
    const files = [16 * KiB, 96 * KiB, 256 * KiB + 1].map((size, i) => {
      const data = seededBytes(`load-${seed}-${i}`, size);
      return { data, path: dir.write(data, `load-${i}.bin`) };
    });
    const peer = await SoakPeer.start(seed, 'load');
    try {
      // One transfer first, to warm up.
      const first = net.connect(peer.port, '127.0.0.1');
      await new Promise((resolve) => first.once('connect', resolve));
      const firstReport = peer.report(first.localPort!);
      await sendFile(first, files[0].path);
      first.end();
      expect((await firstReport).bytes).toBe(files[0].data.length);
      const before = openDescriptors();
      // Connect them all first: the load is the transfers, not the handshakes.
      const sockets = await Promise.all(
        Array.from({ length: TRANSFERS }, async () => {
          const socket = net.connect(peer.port, '127.0.0.1');
          socket.on('error', () => {});
          await new Promise((resolve) => socket.once('connect', resolve));
          return socket;
        }),
      );
      // What each peer must receive is worked out first, as a hash, not as
      // 120 MiB of buffers built in the tick that starts the transfers.
      const planned = sockets.map((socket, i) => {
        const file = rng.pick(files);
        const headers = `transfer ${i}\r\n`;
        return { i, socket, file, headers, backend: NATIVE[i % NATIVE.length], length: headers.length + file.data.length, sha256: sha256(headers, file.data) };
      });
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const jobs = planned.map((job) => {
        const reported = peer.report(job.socket.localPort!);
        const sent = sendFile(job.socket, job.file.path, { headers: job.headers, backend: job.backend }).then((r) => {
          job.socket.end();
          return r;
        });
        return { ...job, reported, sent };
      });
      const results = await within(Promise.all(jobs.map((j) => j.sent)), 120_000, `${TRANSFERS} transfers to complete`);
      const reports = await within(Promise.all(jobs.map((j) => j.reported)), 60_000, 'every peer to report');
      delay.disable();
      const ms = (ns: number) => (ns / 1e6).toFixed(1);
      const total = jobs.reduce((n, j) => n + j.length, 0);
      console.log(
        `load (seed ${seed}): ${TRANSFERS} transfers at once (${NATIVE.join(', ')}), ${(total / 2 ** 20).toFixed(1)} MiB; ` +
          `event-loop delay p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms`,
      );
      const wrong = jobs.filter((j, k) => results[k].bytesSent !== j.length || reports[k].bytes !== j.length || reports[k].sha256 !== j.sha256);
      expect(wrong.map((j) => `#${j.i} ${j.backend}`)).toEqual([]);
      // Every connection closed, nothing else left open. (The addon's driver
      // may have started during the run, when the first transfer needed it:
      // its epoll and eventfd are the driver's, for the life of the process.)
      const driver = /^anon_inode:\[(eventpoll|eventfd)\]$/;
      const left = () => descriptorsOpenedSince(before).filter((line) => !driver.test(line.replace(/^\d+ -> /, '')));
      await eventually(() => left().length === 0, () => `descriptors left open: ${left().join(', ')}`, 10_000);
    } finally {
      await peer.stop();
    }
  });
});
