// serveStatic(root) as the whole handler of node:http, node:https or
// node:http2's compatibility API (BENCH_PROTOCOL, see listen.js), one process.
// `node zerocopy-servestatic.js ROOT [nocache]`: with `nocache`, serveStatic's
// open-file cache (on by default, like nginx's open_file_cache) is off.
'use strict';
const path = require('node:path');
const { serveStatic } = require(path.join(__dirname, '..', '..'));
const { createServer, listen } = require('./listen');

listen(createServer(serveStatic(process.argv[2], process.argv[3] === 'nocache' ? { cache: false } : {})));
