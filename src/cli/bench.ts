// `zerocopy bench`: runs the package's own bench/run.js in a child process
// with this terminal, so that the benchmarks have one way in whether the
// package is a checkout or installed. The package ships bench/ (its C
// helpers are compiled on first use); an installed package writes its
// results in the current folder rather than inside node_modules.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, sep } from 'node:path';
import { wantsHelp } from './args.js';
import { failure } from './errors.js';
import { print } from './output.js';
import { packageRoot } from './package.js';
import { signalNumber } from './signals.js';

/** Where an installed package's results go, under the current folder. */
const INSTALLED_OUT = 'zerocopy-bench';

export const benchHelp = `usage: zerocopy bench [ARGS...]

Runs the benchmarks: node <package>/bench/run.js ARGS..., with this terminal,
and exits with its status. From an installed package (one in node_modules),
the results go to ./${INSTALLED_OUT}/ unless --out says otherwise; peers it
cannot find or install (send, @fastify/static, Bun, nginx, wrk) are
reported as skipped, with what to install.
`;

export async function benchCommand(args: string[]): Promise<number> {
  const script = join(packageRoot, 'bench', 'run.js');
  const help = wantsHelp(args);
  if (help) process.stdout.write(benchHelp);
  if (!existsSync(script)) {
    if (help) return print(`\n(The benchmarks are not installed here: ${script} is missing.)`);
    throw failure('ENOENT', `the benchmarks are not installed: ${script} is missing; run them from a clone of zerocopy: npm install && npm run bench`);
  }
  const installed = packageRoot.includes(`${sep}node_modules${sep}`);
  if (!help && installed && !args.some((arg) => arg === '--out' || arg.startsWith('--out='))) {
    args = [...args, '--out', join(process.cwd(), INSTALLED_OUT)];
    process.stdout.write(`zerocopy bench: results go to ./${INSTALLED_OUT}/ (--out DIR for another folder)\n`);
  }
  if (help) process.stdout.write(`\nOptions of bench/run.js:\n\n`);
  const child = spawn(process.execPath, [script, ...args], { stdio: 'inherit' });
  // Ctrl-C reaches the child from the terminal: the child decides how to stop,
  // and this process reports how it did. A signal sent to this process alone is passed on.
  const ignore = () => {};
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on('SIGINT', ignore);
  process.on('SIGTERM', forward);
  process.on('SIGHUP', forward);
  try {
    return await new Promise<number>((done, fail) => {
      child.once('error', fail);
      child.once('exit', (code, signal) => done(code ?? signalNumber(signal ?? 'SIGTERM')));
    });
  } finally {
    process.removeListener('SIGINT', ignore);
    process.removeListener('SIGTERM', forward);
    process.removeListener('SIGHUP', forward);
  }
}
