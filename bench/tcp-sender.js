// One sender of the TCP benchmark, in a process of its own so that its CPU
// time is its own: `node bench/tcp-sender.js METHOD PORT FILE SIZE WARMUP`.
//
// METHOD is a backend of capabilities().backends (sendFile(socket, file,
// { backend })) or `pipeline` (stream.pipeline(fs.createReadStream(file),
// socket)). It first sends WARMUP bytes untimed on a connection of their own
// (first-use costs: JIT, the addon's driver thread), then SIZE bytes on a
// fresh connection, and prints one JSON line as bench/c/sendfile_loop.c
// does: the bytes the sink counted, wall seconds from connected until the
// sink's count arrived, and process.cpuUsage() over that span (every thread
// of the process, as getrusage(RUSAGE_SELF) in the C loop).
'use strict';

const fs = require('node:fs');
const net = require('node:net');
const path = require('node:path');
const { once } = require('node:events');
const { pipeline } = require('node:stream/promises');

const { sendFile } = require(path.join(__dirname, '..'));

/** Resolves with the sink's 8-byte count once it has closed the connection. */
function sinkCount(socket) {
  const chunks = [];
  socket.on('data', (chunk) => chunks.push(chunk));
  return new Promise((resolve, reject) => {
    socket.once('end', () => {
      const answer = Buffer.concat(chunks);
      if (answer.length !== 8) reject(new Error(`the sink answered ${answer.length} bytes, not 8`));
      else resolve(Number(answer.readBigUInt64LE(0)));
    });
    socket.once('error', reject);
    socket.once('close', () => reject(new Error('the connection closed before the sink answered')));
  });
}

async function transfer(method, port, file, size) {
  const socket = net.connect({ port, host: '127.0.0.1' });
  await once(socket, 'connect');
  const counted = sinkCount(socket);
  counted.catch(() => {});
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  if (method === 'pipeline') {
    // pipeline() ends the socket's write side when the file is done; the
    // socket stays readable for the sink's answer.
    await pipeline(fs.createReadStream(file, { end: size - 1 }), socket);
  } else {
    const result = await sendFile(socket, file, { backend: method, count: size });
    if (result.backend !== method) throw new Error(`asked for backend '${method}', got '${result.backend}'`);
    if (result.bytesSent !== size) throw new Error(`sendFile reported ${result.bytesSent} bytes, not ${size}`);
    socket.end();
  }
  const bytes = await counted;
  const t1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  socket.destroy();
  return { bytes, seconds: Number(t1 - t0) / 1e9, user: cpu.user / 1e6, system: cpu.system / 1e6 };
}

async function main() {
  const [method, port, file, size, warmup] = process.argv.slice(2);
  if (Number(warmup) > 0) await transfer(method, Number(port), file, Number(warmup));
  const result = await transfer(method, Number(port), file, Number(size));
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((error) => {
  process.stderr.write(`tcp-sender: ${error?.stack ?? error}\n`);
  process.exit(1);
});
