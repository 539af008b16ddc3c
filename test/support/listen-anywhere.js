// Preloaded (`node --require`) into the README's examples when
// test/readme.test.ts runs them: every server listens on a port of the
// kernel's choosing instead of the fixed one the example names (8080 may
// be taken by whatever else runs on the machine), and says which on stdout
// as `LISTENING <port>`.
'use strict';
const net = require('node:net');

const listen = net.Server.prototype.listen;
/** @this {import('node:net').Server} @param {any[]} args */
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'number' || (typeof args[0] === 'string' && /^\d+$/.test(args[0]))) args[0] = 0;
  else if (args[0] && typeof args[0] === 'object' && 'port' in args[0]) args[0] = { ...args[0], port: 0, host: '127.0.0.1' };
  this.once('listening', () => {
    const address = this.address();
    if (address && typeof address === 'object') process.stdout.write(`LISTENING ${address.port}\n`);
  });
  return listen.apply(this, /** @type {any} */ (args));
};

// The proxy example connects to a database on port 5432; the test gives it
// an upstream of its own in ZEROCOPY_README_UPSTREAM.
const upstream = process.env.ZEROCOPY_README_UPSTREAM;
if (upstream) {
  const connect = net.Socket.prototype.connect;
  /** @this {import('node:net').Socket} @param {any[]} args */
  net.Socket.prototype.connect = function (...args) {
    const options = Array.isArray(args[0]) ? args[0][0] : args[0];
    if (options && typeof options === 'object' && Number(options.port) === 5432) options.port = Number(upstream);
    return connect.apply(this, /** @type {any} */ (args));
  };
}
