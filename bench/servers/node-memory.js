// The ceiling: Node answering from memory, one process.
// `node node-memory.js ROOT [MAXSIZE]` reads every file directly in ROOT
// smaller than MAXSIZE bytes once, at start, and answers GET /name with the
// file's bytes and the headers serveStatic sends for it (Content-Type,
// Cache-Control, Last-Modified, a strong ETag from size and mtime,
// Accept-Ranges, Content-Length; Node adds Date, and node:http Connection):
// res.end(bytes) on node:http and node:https, stream.respond() and
// stream.end(bytes) on node:http2 (BENCH_PROTOCOL, see listen.js).
// No file system call, no range or conditional request handling: whatever
// a Node file server spends beyond this is the price of serving files.
'use strict';
const fs = require('node:fs');
const path = require('node:path');
const mime = require('mime-types');
const { protocol, createServer, listen } = require('./listen');

const root = process.argv[2];
const maxSize = Number(process.argv[3] ?? Infinity);
const files = new Map();
for (const name of fs.readdirSync(root)) {
  const file = path.join(root, name);
  const stat = fs.statSync(file);
  if (!stat.isFile() || stat.size >= maxSize) continue;
  // One object per file, built once: the response costs Node's work only.
  const headers = {
    'Content-Type': mime.contentType(path.extname(name)) || 'application/octet-stream',
    'Cache-Control': 'public, max-age=0',
    'Last-Modified': stat.mtime.toUTCString(),
    ETag: `"${stat.size.toString(16)}-${stat.mtime.getTime().toString(16)}"`, // the `etag` package's form for a Stats
    'Accept-Ranges': 'bytes',
    'Content-Length': String(stat.size),
  };
  const h2Headers = { ':status': 200, ...Object.fromEntries(Object.entries(headers).map(([k, v]) => [k.toLowerCase(), v])) };
  files.set(`/${name}`, { body: fs.readFileSync(file), headers: protocol === 'h2' ? h2Headers : headers });
}

if (protocol === 'h2') {
  // The core API, not the compatibility layer: no request or response objects.
  const server = createServer();
  server.on('stream', (stream, headers) => {
    const file = files.get(headers[':path']);
    const method = headers[':method'];
    if (!file || (method !== 'GET' && method !== 'HEAD')) {
      stream.respond({ ':status': file ? 405 : 404 }, { endStream: true });
      return;
    }
    if (method === 'HEAD') stream.respond(file.headers, { endStream: true });
    else {
      stream.respond(file.headers);
      stream.end(file.body);
    }
  });
  listen(server);
} else {
  listen(
    createServer((req, res) => {
      const file = files.get(req.url);
      if (!file || (req.method !== 'GET' && req.method !== 'HEAD')) {
        res.statusCode = file ? 405 : 404;
        res.end();
        return;
      }
      res.writeHead(200, file.headers);
      res.end(req.method === 'HEAD' ? undefined : file.body);
    }),
  );
}
