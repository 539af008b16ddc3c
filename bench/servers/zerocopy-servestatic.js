// serveStatic(root) as the whole node:http handler, one process.
// `node zerocopy-servestatic.js ROOT [nocache]`: with `nocache`, serveStatic's
// open-file cache (on by default, like nginx's open_file_cache) is off.
'use strict';
const http = require('node:http');
const path = require('node:path');
const { serveStatic } = require(path.join(__dirname, '..', '..'));

const handler = serveStatic(process.argv[2], process.argv[3] === 'nocache' ? { cache: false } : {});
const server = http.createServer(handler);
server.listen(0, '127.0.0.1', () => process.stdout.write(`${JSON.stringify({ port: server.address().port })}\n`));

// The bench holds our standard input open: when it closes, the bench is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
