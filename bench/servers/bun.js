// Bun.serve answering with Bun.file, which Bun sends with sendfile(2) on
// plain HTTP. Run by the bun binary: `bun bun.js ROOT`. One process.
// With BENCH_TLS_KEY and BENCH_TLS_CERT (PEM files) it serves HTTPS
// (Bun.serve's tls option; BoringSSL, whose defaults offer TLS 1.3).
const root = process.argv[2];
const { readdirSync } = require('node:fs');
const files = new Map(readdirSync(root).map((name) => [`/${name}`, `${root}/${name}`]));
const { BENCH_TLS_KEY: key, BENCH_TLS_CERT: cert } = process.env;

const server = Bun.serve({
  hostname: '127.0.0.1',
  port: 0,
  tls: key && cert ? { key: Bun.file(key), cert: Bun.file(cert) } : undefined,
  fetch(req) {
    const url = req.url; // absolute: http(s)://127.0.0.1:PORT/name
    const file = files.get(url.slice(url.indexOf('/', 8)));
    return file ? new Response(Bun.file(file)) : new Response(null, { status: 404 });
  },
});
process.stdout.write(`${JSON.stringify({ port: server.port })}\n`);

// The bench holds our standard input open: when it closes, the bench is gone.
process.stdin.on('end', () => process.exit(0));
process.stdin.on('error', () => process.exit(0));
process.stdin.resume();
