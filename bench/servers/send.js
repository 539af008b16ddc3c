// `send` (the engine of Express's res.sendFile and serve-static) on node:http,
// one process, with its defaults. `node send.js ROOT`
'use strict';
const http = require('node:http');
const send = require('send');

const root = process.argv[2];
const server = http.createServer((req, res) => {
  send(req, req.url, { root })
    .on('error', (error) => {
      res.statusCode = error.status || 500;
      res.end();
    })
    .pipe(res);
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));

// The bench holds our standard input open: when it closes, the bench is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
