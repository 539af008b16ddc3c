// How the bench's Node servers listen. The protocol comes from the
// environment, so one script serves every scenario:
//   BENCH_PROTOCOL  http (the default), https (node:https) or h2
//                   (node:http2's createSecureServer, HTTP/2 only: no allowHTTP1)
//   BENCH_TLS_KEY, BENCH_TLS_CERT
//                   PEM files, for https and h2; TLS 1.3 only
// listen() prints {"port":N} once listening on 127.0.0.1, and exits when
// standard input closes: the bench holds it open, so the server ends with it.
'use strict';
const fs = require('node:fs');

const protocol = process.env.BENCH_PROTOCOL || 'http';
if (!['http', 'https', 'h2'].includes(protocol)) throw new Error(`BENCH_PROTOCOL: expected http, https or h2, got '${protocol}'`);

function tlsOptions() {
  const { BENCH_TLS_KEY: key, BENCH_TLS_CERT: cert } = process.env;
  if (!key || !cert) throw new Error(`BENCH_PROTOCOL=${protocol} needs BENCH_TLS_KEY and BENCH_TLS_CERT`);
  return { key: fs.readFileSync(key), cert: fs.readFileSync(cert), minVersion: 'TLSv1.3' };
}

/** A server of the chosen protocol; `handler`, when given, answers its requests (the compatibility API on h2). */
function createServer(handler) {
  if (protocol === 'http') return require('node:http').createServer(handler);
  if (protocol === 'https') return require('node:https').createServer(tlsOptions(), handler);
  return require('node:http2').createSecureServer(tlsOptions(), handler);
}

function listen(server) {
  server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));
  process.stdin.on('end', () => process.exit(0));
  process.stdin.on('error', () => process.exit(0));
  process.stdin.resume();
}

module.exports = { protocol, createServer, listen };
