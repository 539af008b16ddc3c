// @ts-check
// Clients in a process of their own, for tests of a server in the test
// process: on each command it opens a burst of connections at once, so that
// the server accepts them one after another in one turn of its event loop,
// and once all have closed it says how many bytes they received in all.
// Started by peer.ts (BurstClients) as `node burst-clients-program.js`.
//
// stdin, one JSON object a line: { "port": N, "count": N } (BurstCommand).
// stdout, one a line, per burst, in order: { "bytes": N } (BurstReport).
// It exits when its stdin closes.
'use strict';

const net = require('node:net');
const readline = require('node:readline');

/** @typedef {import('./peer.js').BurstCommand} BurstCommand */
/** @typedef {import('./peer.js').BurstReport} BurstReport */

/** @param {BurstReport} report */
const report = (report) => process.stdout.write(JSON.stringify(report) + '\n');

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const { port, count } = /** @type {BurstCommand} */ (JSON.parse(line));
  let open = count;
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const socket = net.connect(port, '127.0.0.1');
    socket.on('data', (d) => (bytes += d.length));
    socket.on('error', () => {}); // a reset is an outcome, not a failure: only the bytes count
    socket.on('close', () => {
      if (--open === 0) report({ bytes });
    });
  }
});

process.stdin.on('end', () => process.exit(0));
