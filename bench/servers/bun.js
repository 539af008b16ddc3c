// Bun.serve answering with Bun.file, which Bun sends with sendfile(2) on
// plain HTTP. Run by the bun binary: `bun bun.js ROOT`. One process.
const root = process.argv[2];
const { readdirSync } = require('node:fs');
const files = new Map(readdirSync(root).map((name) => [`/${name}`, `${root}/${name}`]));

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  fetch(req) {
    const url = req.url; // absolute: http://127.0.0.1:PORT/name
    const file = files.get(url.slice(url.indexOf('/', 8)));
    return file ? new Response(Bun.file(file)) : new Response(null, { status: 404 });
  },
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

// The bench holds our standard input open: when it closes, the bench is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
