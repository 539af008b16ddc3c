// serveFile(req, res, path) on node:http, node:https or node:http2's
// compatibility API (BENCH_PROTOCOL, see listen.js), one process.
// `node zerocopy-servefile.js ROOT` serves the files directly in ROOT by
// name (/4k.bin -> ROOT/4k.bin); other URLs get 404.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const { serveFile } = require(path.join(__dirname, '..', '..'));
const { createServer, listen } = require('./listen');

const root = process.argv[2];
const files = new Map(fs.readdirSync(root).map((name) => [`/${name}`, path.join(root, name)]));
listen(
  createServer((req, res) => {
    const file = files.get(req.url);
    if (!file) {
      res.statusCode = 404;
      res.end();
      return;
    }
    serveFile(req, res, file).catch(() => {}); // a client that left
  }),
);
