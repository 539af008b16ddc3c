// What the suites ported from send, serve-static, sirv and @fastify/static
// share: their fixture trees written into a temporary folder, servers that
// are all closed when the file is done (support/http.ts's Servers), and a client that sends a request
// target exactly as written (dot segments, `%`, `//` and all, as supertest
// and curl --path-as-is do) and hands back status, headers and body text.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { rawExchange, type ParsedResponse, type Running } from './http.js';

export { Servers } from './http.js';

/** Writes `tree` (relative path -> content; a path ending in `/` is an empty folder) under `root`. */
export function writeTree(root: string, tree: Record<string, string | Buffer>): void {
  for (const [path, content] of Object.entries(tree)) {
    if (path.endsWith('/')) {
      mkdirSync(join(root, path), { recursive: true });
      continue;
    }
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
}

export interface Answer extends ParsedResponse {
  text: string;
}

/** One request for `target`, exactly as written, on a fresh connection. */
export async function ask(s: Running, target: string, headers: Record<string, string> = {}, method = 'GET'): Promise<Answer> {
  const head = `${method} ${target} HTTP/1.1\r\nHost: localhost\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`;
  const { responses } = await rawExchange(s.port, head, 1, [method === 'HEAD']);
  if (!responses[0]) throw new Error(`no response to ${method} ${target}`);
  return { ...responses[0], text: responses[0].body.toString() };
}
