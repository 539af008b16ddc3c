// The source tree's shape, as ARCHITECTURE.md states it: no module of src/
// imports, even for a type, one that imports it back (directly or around a
// longer loop), so each part can be read and changed from the bottom up.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

const src = join(__dirname, '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => (entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : []));
}

/** Each module's relative imports and re-exports, type-only ones included. */
function importGraph(): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const file of sources(src)) {
    const text = readFileSync(file, 'utf8');
    const targets = [...text.matchAll(/^\s*(?:import|export)\b[^'";]*?\bfrom\s+'(\.[^']+)'/gm)].map((m) => normalize(join(dirname(file), m[1].replace(/\.js$/, '.ts'))));
    graph.set(file, targets);
  }
  return graph;
}

/** Every cycle, each once, as a list of paths relative to src/. */
function cycles(graph: Map<string, string[]>): string[][] {
  const found = new Map<string, string[]>();
  const walk = (node: string, path: string[]) => {
    for (const next of graph.get(node) ?? []) {
      const at = path.indexOf(next);
      if (at !== -1) {
        const cycle = path.slice(at).map((p) => relative(src, p));
        const start = cycle.indexOf([...cycle].sort()[0]);
        const canonical = [...cycle.slice(start), ...cycle.slice(0, start)];
        found.set(canonical.join(' -> '), canonical);
      } else if (graph.has(next) && path.length < 40) {
        walk(next, [...path, next]);
      }
    }
  };
  for (const node of graph.keys()) walk(node, [node]);
  return [...found.values()];
}

describe('src/', () => {
  it('has no import cycle, type imports included', () => {
    const graph = importGraph();
    expect(graph.size).toBeGreaterThan(30);
    expect([...graph.values()].flat().length).toBeGreaterThan(60);
    expect(cycles(graph)).toEqual([]);
  });

  it('finds a cycle where there is one (the check itself)', () => {
    const a = join(src, 'a.ts');
    const b = join(src, 'b.ts');
    expect(cycles(new Map([[a, [b]], [b, [a]]]))).toEqual([['a.ts', 'b.ts']]);
  });
});
