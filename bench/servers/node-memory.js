// The ceiling for small files: node:http answering from memory, one process.
// `node node-memory.js ROOT [MAXSIZE]` reads every file directly in ROOT
// smaller than MAXSIZE bytes once, at start, and answers GET /name with
// res.end(bytes) and the headers serveStatic sends for it (Content-Type,
// Cache-Control, Last-Modified, a strong ETag from size and mtime,
// Accept-Ranges, Content-Length; node:http adds Date and Connection).
// No file system call, no range or conditional request handling: whatever
// a Node file server spends beyond this is the price of serving files.
'use strict';
const http = require('node:http');
const fs = require('node:fs');
const path = require('node:path');
const mime = require('mime-types');

const root = process.argv[2];
const maxSize = Number(process.argv[3] ?? Infinity);
const files = new Map();
for (const name of fs.readdirSync(root)) {
  const file = path.join(root, name);
  const stat = fs.statSync(file);
  if (!stat.isFile() || stat.size >= maxSize) continue;
  files.set(`/${name}`, {
    body: fs.readFileSync(file),
    // One object per file, built once: the response costs node:http's work only.
    headers: {
      'Content-Type': mime.contentType(path.extname(name)) || 'application/octet-stream',
      'Cache-Control': 'public, max-age=0',
      'Last-Modified': stat.mtime.toUTCString(),
      ETag: `"${stat.size.toString(16)}-${stat.mtime.getTime().toString(16)}"`, // the `etag` package's form for a Stats
      'Accept-Ranges': 'bytes',
      'Content-Length': String(stat.size),
    },
  });
}

const server = http.createServer((req, res) => {
  const file = files.get(req.url);
  if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
    res.statusCode = file ? 405 : 404;
    res.end();
    return;
  }
  res.writeHead(200, file.headers);
  res.end(req.method === 'HEAD' ? undefined : file.body);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));

// The bench holds our standard input open: when it closes, the bench is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
