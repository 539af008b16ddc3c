// @ts-check
// The peer of the soak test: a TCP server on 127.0.0.1 in a process of its
// own that reads every connection to its end and reports, when it closes,
// the client's port, the bytes received and their SHA-256. How it reads a
// connection (everything, slowly, or up to a point and then a reset) follows
// from the client's port and the run's seed by peerFault(), which the soak
// test imports from here: no message per connection is needed. Started as
// `node soak-peer-program.js <seed> [soak|load]`; exits when stdin closes.
'use strict';

const crypto = require('node:crypto');
const net = require('node:net');

/**
 * How the peer reads the connection from client port `port` in the run
 * seeded with `seed`. The 'soak' profile: 8% reset after `after` bytes, 8%
 * read at 4 MB/s, the rest at once. The 'load' profile: a quarter each at
 * once, at 8 MB/s, 2 MB/s and 512 KB/s.
 * @param {number} port
 * @param {number} seed
 * @param {'soak' | 'load'} [profile]
 * @returns {{ kind: 'sink' | 'slow' | 'reset', after: number, rate: number }}
 */
function peerFault(port, seed, profile = 'soak') {
  let h = (port * 2654435761 + seed * 40503) >>> 0;
  h = Math.imul(h ^ (h >>> 15), 0x2c1b3c6d) >>> 0;
  const r = h % 100;
  if (profile === 'load') {
    const rates = [0, 8e6, 2e6, 512e3];
    const rate = rates[r % 4];
    return { kind: rate ? 'slow' : 'sink', after: 0, rate };
  }
  if (r < 8) return { kind: 'reset', after: h % 200_000, rate: 0 };
  if (r < 16) return { kind: 'slow', after: 0, rate: 4e6 };
  return { kind: 'sink', after: 0, rate: 0 };
}

module.exports = { peerFault };

/**
 * @param {number} seed
 * @param {'soak' | 'load'} profile
 */
function serve(seed, profile) {
  const server = net.createServer((socket) => {
    const port = socket.remotePort ?? 0;
    const fault = peerFault(port, seed, profile);
    const hash = crypto.createHash('sha256');
    let bytes = 0;
    let how = 'end';
    socket.on('error', (/** @type {NodeJS.ErrnoException} */ e) => {
      if (how === 'end') how = e.code ?? 'error';
    });
    socket.on('data', (d) => {
      bytes += d.length;
      hash.update(d);
      if (fault.kind === 'reset' && bytes >= fault.after && how === 'end') {
        how = 'reset';
        socket.resetAndDestroy();
      } else if (fault.kind === 'slow') {
        // About `rate` bytes a second: a pause after every chunk.
        socket.pause();
        setTimeout(() => socket.resume(), Math.ceil((d.length / fault.rate) * 1000));
      }
    });
    socket.on('end', () => socket.end());
    socket.on('close', () => {
      process.stdout.write(`${JSON.stringify({ port, bytes, sha256: hash.digest('hex'), how, fault: fault.kind })}\n`);
    });
  });

  server.listen({ port: 0, host: '127.0.0.1', backlog: 1024 }, () => {
    process.stdout.write(`${JSON.stringify({ listening: /** @type {net.AddressInfo} */ (server.address()).port })}\n`);
  });
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
}

if (require.main === module) serve(Number(process.argv[2] ?? 0), process.argv[3] === 'load' ? 'load' : 'soak');
