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
