// `send` (the engine of Express's res.sendFile and serve-static) on node:http
// or node:https (BENCH_PROTOCOL, see listen.js), one process, with its
// defaults. `node send.js ROOT`
'use strict';
const send = require('send');
const { createServer, listen } = require('./listen');

const root = process.argv[2];
listen(
  createServer((req, res) => {
    send(req, req.url, { root })
      .on('error', (error) => {
        res.statusCode = error.status || 500;
        res.end();
      })
      .pipe(res);
  }),
);
