// @fastify/static on Fastify, one process, logger off, plugin defaults.
// `node fastify-static.js ROOT`
'use strict';
const fastify = require('fastify')({ logger: false });

fastify.register(require('@fastify/static'), { root: process.argv[2], prefix: '/' });
fastify.listen({ port: 0, host: '127.0.0.1' }).then(() => {
  process.stdout.write(`${JSON.stringify({ port: fastify.server.address().port })}\n`);
});

// The bench holds our standard input open: when it closes, the bench is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
