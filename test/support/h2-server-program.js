// @ts-check
// An HTTP/2 file server in a process of its own, for the tests that try to
// crash one: if a client's cancel kills it, the test sees the exit (code and
// signal) instead of losing its own process. Started as
// `node h2-server-program.js '<Options as JSON>'`; prints `listening <port>`
// once it is, and a line `served <path> <result or error code>` per
// serveFile/serveStatic outcome. It exits when its stdin closes.
'use strict';

const http2 = require('node:http2');
const { join } = require('node:path');
const { serveFile, serveStatic } = require('../../dist/cjs/index.js');

/**
 * @typedef {object} Options
 * @property {string} root the folder served
 * @property {boolean} [tls] createSecureServer (with `key` and `cert`), else h2c
 * @property {boolean} [allowHTTP1]
 * @property {boolean} [cache] serveStatic's and serveFile's cache (default true)
 * @property {string} [key] PEM
 * @property {string} [cert] PEM
 */
/** @type {Options} */
const options = JSON.parse(process.argv[2]);
const cache = options.cache !== false;
const files = serveStatic(options.root, { cache });

/**
 * `/file/<name>`: serveFile of the file under root; anything else: serveStatic.
 * @param {http2.Http2ServerRequest} req
 * @param {http2.Http2ServerResponse} res
 */
function handle(req, res) {
  const path = req.url;
  const done = (/** @type {string} */ what) => process.stdout.write(`served ${path} ${what}\n`);
  if (path.startsWith('/file/')) {
    serveFile(req, res, join(options.root, decodeURIComponent(path.slice('/file/'.length))), { cache }).then(
      (r) => done(`${r.statusCode}:${r.bytesSent}`),
      (e) => done(e.code ?? 'error'),
    );
  } else {
    files(req, res).then(() => done('handled'));
  }
}

const server = options.tls
  ? http2.createSecureServer({ key: options.key, cert: options.cert, allowHTTP1: options.allowHTTP1 }, handle)
  : http2.createServer(handle);
// A client that leaves mid-session is the point: its session errors are not ours.
server.on('sessionError', () => {});
server.listen(0, '127.0.0.1', () => {
  const address = /** @type {import('node:net').AddressInfo} */ (server.address());
  process.stdout.write(`listening ${address.port}\n`);
});
process.stdin.resume();
process.stdin.on('end', () => process.exit(0));
