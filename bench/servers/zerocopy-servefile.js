// serveFile(req, res, path) on node:http, one process. `node zerocopy-servefile.js ROOT`
// serves the files directly in ROOT by name (/4k.bin -> ROOT/4k.bin); other URLs get 404.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const { serveFile } = require(path.join(__dirname, '..', '..'));

const root = process.argv[2];
const files = new Map(fs.readdirSync(root).map((name) => [`/${name}`, path.join(root, name)]));
const server = http.createServer((req, res) => {
  const file = files.get(req.url);
  if (!file) {
    res.statusCode = 404;
    res.end();
    return;
  }
  serveFile(req, res, file).catch(() => {}); // a client that left
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));

// The bench holds our standard input open: when it closes, the bench is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
