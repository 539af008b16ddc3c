// Child processes for the tests: running one to its end with its output,
// waiting for a line it prints, running a short Node script, and finding
// out whether a command the tests need (openssl, curl, ss, mkfifo) is here,
// without installing anything.
import { execFile, execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

/** execFile as a promise: resolves with { stdout, stderr }, rejects on a non-zero exit. */
export const execFileAsync = promisify(execFile);

export interface Exited {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Collects a child's output (stdout and stderr, when they are pipes) and
 * resolves when it has exited and its streams are closed. Rejects only if
 * it could not be started; a non-zero exit is for the test to judge.
 */
export function exited(child: ChildProcess): Promise<Exited> {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => (stdout += s));
  child.stderr?.setEncoding('utf8').on('data', (s: string) => (stderr += s));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** Runs `node -e script ...args` with extra environment and resolves when it exits. */
export function runNode(script: string, env: NodeJS.ProcessEnv = {}, args: string[] = []): Promise<Exited> {
  const child = spawn(process.execPath, ['-e', script, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return exited(child);
}

/**
 * Waits for a line on a child's stdout that matches `pattern`. Rejects if
 * the child exits first. It has no time limit of its own: a child that
 * hangs silently is caught only by the test's timeout.
 */
export function waitForLine(child: ChildProcess, pattern: RegExp): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const onData = (chunk: Buffer | string) => {
      buffered += chunk.toString();
      for (const line of buffered.split('\n')) {
        const m = line.match(pattern);
        if (m) {
          child.stdout!.off('data', onData);
          return resolve(m);
        }
      }
    };
    child.stdout!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before printing ${pattern}`)));
  });
}

/** Where a command is on PATH (as `command -v` finds it), or undefined when it is not there. */
export function findCommand(name: string): string | undefined {
  try {
    return execFileSync('sh', ['-c', 'command -v "$1"', 'sh', name], { encoding: 'utf8' }).trim() || undefined;
  } catch {
    return undefined;
  }
}
