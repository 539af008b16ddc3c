// @ts-check
// Workers terminated while they call into the addon, in a process of its
// own, so that a fatal error there ends this process and not the test's.
// Started by hostile-inputs.test.ts as
// `node terminated-workers-program.js <dist/cjs/native.js> <folder> <rounds>`,
// with content.bin (at least 256 KiB) and beneath.bin in the folder.
//
// Each round starts a worker that calls the addon without pause (Transfer's
// constructor, start and abort, openBeneath) and terminates it at a random
// moment, which then often falls inside one of those calls, whose Node-API
// calls fail. Even rounds never yield, so every transfer and openBeneath
// they started completes during the worker's teardown, when no JavaScript
// may run; odd rounds yield, so transfers also end and report while the
// worker runs, from the threadpool (the file) and from the driver (more than
// inlineBytes to the socket). It prints { rounds, leaked }: the descriptors
// it holds at the end that it did not hold before the first round.
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const { once } = require('node:events');
const { join } = require('node:path');
const { isMainThread, parentPort, workerData, Worker } = require('node:worker_threads');

/** @returns {Set<string>} the open descriptors, as `fd -> target` */
function held() {
  const fds = new Set();
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      fds.add(`${fd} -> ${fs.readlinkSync(`/proc/self/fd/${fd}`)}`);
    } catch {
      // The listing's own handle, closed by now.
    }
  }
  return fds;
}

/**
 * @param {string} native
 * @param {string} folder
 * @param {number} rounds
 */
async function terminate(native, folder, rounds) {
  const server = net.createServer((s) => s.resume());
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  const socket = net.connect(address.port, '127.0.0.1');
  await once(socket, 'connect');
  const input = fs.openSync(join(folder, 'content.bin'), 'r');
  const file = fs.openSync(join(folder, 'sink.bin'), 'w');
  // The workers use this thread's descriptors, and hold none of their own
  // but what the addon opens for them.
  const outputs = [/** @type {any} */ (socket)._handle.fd, file];
  const before = held();
  for (let round = 0; round < rounds; round++) {
    const worker = new Worker(__filename, { workerData: { native, folder, outputs, input, yields: round % 2 === 1 } });
    await once(worker, 'message');
    await new Promise((resolve) => setTimeout(resolve, Math.random() * 8));
    await worker.terminate();
  }
  // Closes by the sink's side of the connection may lag a little.
  let leaked = [...held()].filter((fd) => !before.has(fd));
  for (const deadline = Date.now() + 2000; leaked.length > 0 && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    leaked = [...held()].filter((fd) => !before.has(fd));
  }
  console.log(JSON.stringify({ rounds, leaked }));
  socket.destroy();
  server.close();
  fs.closeSync(input);
  fs.closeSync(file);
}

/** @param {{ native: string, folder: string, outputs: number[], input: number, yields: boolean }} data */
async function call({ native, folder, outputs, input, yields }) {
  const { binding } = require(native);
  // 'stream' is no backend of the addon's: its constructor throws.
  const backends = [...binding.capabilities().backends.map((/** @type {{ name: string }} */ b) => b.name), 'auto', 'stream'];
  const nothing = () => {};
  parentPort?.postMessage('calling');
  for (let i = 0; ; i++) {
    try {
      const count = yields && i % 64 === 1 ? 256 * 1024 : 1;
      const transfer = new binding.Transfer(outputs[i % 2], input, 0n, BigInt(count), null, null, backends[i % backends.length], i % 3 === 0, nothing, nothing);
      if (i % 4 !== 0) transfer.start();
      if (i % 4 < 2) transfer.abort(i % 8 < 4);
    } catch {
      // The constructor's refusal of 'stream'.
    }
    if (!yields && i < 64) binding.openBeneath(folder, 'beneath.bin', i % 2 === 0, nothing);
    if (yields && i % 128 === 0) await new Promise(setImmediate);
  }
}

if (isMainThread) {
  const [native, folder, rounds] = process.argv.slice(2);
  void terminate(native, folder, Number(rounds));
} else {
  void call(workerData);
}
