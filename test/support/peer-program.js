// @ts-check
// The peer of the socket tests: a TCP server on 127.0.0.1 in a process of
// its own, so that the test process's event loop and descriptors are the
// sender's alone. Started by peer.ts (PeerProcess) as
// `node peer-program.js '<default mode as JSON>'`.
//
// It reports on stdout, one JSON object a line (PeerReport): that it is
// listening, and for every connection that it was accepted, what it
// received (byte count, SHA-256, first 64 bytes) and how it ended. It takes
// commands on stdin (PeerCommand) that change how it reads: everything,
// nothing, slowly, or up to a point and then reset or close. It exits when
// its stdin closes.
'use strict';

const crypto = require('node:crypto');
const net = require('node:net');
const readline = require('node:readline');

/** @typedef {import('./peer.js').PeerMode} PeerMode */
/** @typedef {import('./peer.js').PeerReport} PeerReport */
/** @typedef {import('./peer.js').PeerCommand} PeerCommand */

/**
 * @typedef {object} Connection
 * @property {number} id
 * @property {import('node:net').Socket} socket
 * @property {number} bytes received so far
 * @property {import('node:crypto').Hash} hash of the bytes received so far
 * @property {Buffer} head the first 64 bytes received
 * @property {boolean} ended whether the sender ended its side
 * @property {boolean} acted whether a 'reset' or 'destroy' mode has done it
 * @property {PeerMode} mode
 * @property {number} allowed in 'slow' mode, the bytes it may have read by now
 * @property {NodeJS.Timeout} [timer] in 'slow' mode, what raises `allowed`
 */

/** How new connections are read until a 'defaults' command says otherwise. */
let defaults = /** @type {PeerMode} */ (JSON.parse(process.argv[2] ?? '{"mode":"sink"}'));

/** @param {PeerReport} report */
const report = (report) => process.stdout.write(JSON.stringify(report) + '\n');

/** @type {Map<number, Connection>} */
const connections = new Map();
let nextId = 0;

/**
 * @param {Connection} c
 * @param {PeerMode} mode
 */
function setMode(c, mode) {
  c.mode = mode;
  clearInterval(c.timer);
  if (mode.mode === 'paused') {
    c.socket.pause();
  } else if (mode.mode === 'slow') {
    // Reads in bursts, pausing whenever it is ahead of `rate` bytes per second.
    const tick = 20;
    c.allowed = c.bytes;
    c.socket.pause();
    c.timer = setInterval(() => {
      c.allowed += (mode.rate * tick) / 1000;
      if (c.bytes < c.allowed && c.socket.isPaused()) c.socket.resume();
    }, tick);
  } else {
    c.socket.resume();
  }
}

const server = net.createServer((socket) => {
  /** @type {Connection} */
  const c = {
    id: nextId++,
    socket,
    bytes: 0,
    hash: crypto.createHash('sha256'),
    head: Buffer.alloc(0),
    ended: false,
    acted: false,
    mode: defaults,
    allowed: 0,
  };
  connections.set(c.id, c);
  socket.on('error', (/** @type {NodeJS.ErrnoException} */ e) => report({ event: 'error', id: c.id, code: e.code }));
  socket.on('data', (d) => {
    c.bytes += d.length;
    c.hash.update(d);
    if (c.head.length < 64) c.head = Buffer.concat([c.head, d.subarray(0, 64 - c.head.length)]);
    const m = c.mode;
    if ((m.mode === 'reset' || m.mode === 'destroy') && !c.acted && c.bytes >= m.after) {
      c.acted = true;
      report({ event: m.mode, id: c.id, bytes: c.bytes });
      if (m.mode === 'reset') socket.resetAndDestroy();
      else socket.destroy();
    } else if (m.mode === 'slow' && c.bytes >= c.allowed) {
      socket.pause();
    }
  });
  socket.on('end', () => {
    c.ended = true;
    report({ event: 'end', id: c.id, bytes: c.bytes, sha256: c.hash.digest('hex'), head: c.head.toString('latin1') });
    socket.end();
  });
  socket.on('close', () => {
    clearInterval(c.timer);
    connections.delete(c.id);
    report({ event: 'close', id: c.id, bytes: c.bytes, ended: c.ended });
  });
  setMode(c, { ...defaults });
  report({ event: 'connection', id: c.id, remotePort: socket.remotePort });
});

// A large backlog: some tests open dozens of connections at once.
server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => {
  report({ event: 'listening', port: /** @type {import('node:net').AddressInfo} */ (server.address()).port });
});

readline.createInterface({ input: process.stdin }).on('line', (line) => {
  const command = /** @type {PeerCommand} */ (JSON.parse(line));
  if (command.cmd === 'mode') {
    for (const c of connections.values()) if (command.id === undefined || command.id === c.id) setMode(c, command.mode);
  } else if (command.cmd === 'defaults') {
    defaults = command.mode;
  }
});

// The test closes our stdin to stop us.
process.stdin.on('end', () => process.exit(0));
