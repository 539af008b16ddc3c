// A receiver of the receive benchmark, one process: `node receive.js METHOD
// DIR` listens on 127.0.0.1 (a free port, printed as {"port":N}) and writes
// each connection, one after another, into DIR/received.bin (emptied):
//   receiveFile  zerocopy's receiveFile(socket, path)
//   pipeline     stream.pipeline(socket, fs.createWriteStream(path))
// At the connection's end it answers with the byte count as 8 little-endian
// bytes, as bench/c/sink.c does, so that the sender's clock covers the file
// being written, and closes.
'use strict';
const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { pipeline } = require('node:stream/promises');

const { receiveFile } = require(path.join(__dirname, '..', '..'));
const [method, dir] = process.argv.slice(2);
const file = path.join(dir, 'received.bin');

async function take(socket) {
  if (method === 'receiveFile') return (await receiveFile(socket, file)).bytesReceived;
  const out = fs.createWriteStream(file);
  let bytes = 0;
  socket.on('data', (chunk) => (bytes += chunk.length));
  await pipeline(socket, out);
  return bytes;
}

const server = net.createServer({ allowHalfOpen: true, pauseOnConnect: true }, async (socket) => {
  socket.on('error', () => {});
  try {
    const bytes = await take(socket);
    const answer = Buffer.alloc(8);
    answer.writeBigUInt64LE(BigInt(bytes));
    socket.end(answer);
  } catch (error) {
    process.stderr.write(`receive.js: ${error.stack}\n`);
    socket.destroy();
  }
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));

process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
