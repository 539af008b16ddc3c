// A TCP relay of the relay benchmark, one process: `node relay.js METHOD
// TARGET_PORT` listens on 127.0.0.1 (a free port, printed as {"port":N})
// and joins each connection to a new one to 127.0.0.1:TARGET_PORT, both
// sides with allowHalfOpen (an end is passed on, as a proxy must):
//   relay  zerocopy's relay(a, b)
//   pipe   a.pipe(b) and b.pipe(a), what Node TCP and HTTP proxies do
// With METHOD 'hold' it is the far end of the idle-connections measure
// instead: it accepts connections and keeps them, reading nothing.
'use strict';
const net = require('node:net');
const path = require('node:path');

const { relay } = require(path.join(__dirname, '..', '..'));
const [method, targetPort] = process.argv.slice(2);

const held = [];
const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: method !== 'pipe' }, (client) => {
  if (method === 'hold') {
    held.push(client);
    return;
  }
  const upstream = net.connect({ port: Number(targetPort), host: '127.0.0.1', allowHalfOpen: true });
  if (method === 'relay') {
    relay(client, upstream).catch(() => {});
    return;
  }
  for (const socket of [client, upstream]) socket.on('error', () => {
    client.destroy();
    upstream.destroy();
  });
  client.pipe(upstream);
  upstream.pipe(client);
  // Over once both ways have ended.
  let open = 2;
  const closeOne = () => {
    if (--open === 0) {
      client.destroy();
      upstream.destroy();
    }
  };
  client.on('end', closeOne);
  upstream.on('end', closeOne);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));

// The idle measure asks for a collection before it looks at our memory.
process.on('SIGUSR2', () => globalThis.gc?.());

// The bench holds our standard input open: when it closes, the bench is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
