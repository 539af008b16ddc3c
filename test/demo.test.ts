// The `npm start` demonstration, run as a real child process exactly as a
// user would run it. Only its behaviour is checked (exit status, one
// verified row per method, clean-up, usage errors), never its speeds: those
// belong to the machine, not to the code.
import { spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { makeTempDir, type TempDir } from './support/files.js';
import { exited, type Exited } from './support/processes.js';

const root = join(__dirname, '..');
const demo = join(root, 'demo', 'demo.js');
// The demo loads the package's own `main`; ask the same build which backends it has.
const { capabilities } = createRequire(__filename)(root) as { capabilities(): { backends: string[] } };

/** `node demo/demo.js ...args`, run to its end. */
function runDemo(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Exited> {
  return exited(spawn(process.execPath, [demo, ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] }));
}

/** The table's rows, cells split on the two-space column gaps. */
function tableRows(stdout: string): string[][] {
  const lines = stdout.split('\n');
  const rule = lines.findIndex((line) => /^\s*-+(\s+-+)+\s*$/.test(line));
  expect(rule, `no table in:\n${stdout}`).toBeGreaterThan(0);
  const rows: string[][] = [];
  for (const line of lines.slice(rule + 1)) {
    if (line.trim() === '') break;
    rows.push(line.trim().split(/\s{2,}/));
  }
  return rows;
}

const scratch: TempDir[] = [];
afterEach(() => {
  for (const dir of scratch.splice(0)) dir.remove();
});

describe('demo/demo.js', () => {
  it('sends the file with every backend and the pipeline baseline, all verified, and cleans up', async () => {
    // A private TMPDIR: the demo's file must be gone from it afterwards.
    const tmp = makeTempDir('zerocopy-demo-test-');
    scratch.push(tmp);
    const run = await runDemo(['--size', '8M'], { TMPDIR: tmp.path });

    expect(run.stderr).toBe('');
    expect(run.code, run.stdout).toBe(0);
    expect(run.stdout).toMatch(/^machine: /);
    expect(run.stdout).toContain('8 MiB (8388608 bytes)');

    const rows = tableRows(run.stdout);
    const expected = [...capabilities().backends, 'pipeline (baseline)'];
    expect(rows.map((r) => r[0]).sort()).toEqual([...expected].sort());
    for (const row of rows) {
      expect(row, row.join(' | ')).toHaveLength(6);
      expect(row[5], `${row[0]}: ${row.join(' | ')}`).toBe('match');
    }
    expect(readdirSync(tmp.path)).toEqual([]);
  });

  it('exits 2 with one line on stderr for a bad --size', async () => {
    const run = await runDemo(['--size', 'nonsense']);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr.endsWith('\n')).toBe(true);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).toContain('--size');
  });
});
