// The `zerocopy` command as the CLI tests run it: a real child process
// (`node bin/zerocopy.js ...`, or another copy of the package's bin) whose
// output is collected as it comes, with waits for a line that name what they
// waited for, and a cleanup that kills whatever a test left running.
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { join } from 'node:path';
import type { Exited } from './processes.js';

export const packageRoot = join(__dirname, '..', '..');
export const bin = join(packageRoot, 'bin', 'zerocopy.js');

const running: { proc: ChildProcess; group: boolean }[] = [];

export class Child {
  readonly proc: ChildProcess;
  stdout = '';
  stderr = '';
  readonly exited: Promise<Exited>;

  constructor(command: string, args: string[], options: SpawnOptions = {}) {
    this.proc = spawn(command, args, { cwd: packageRoot, ...options, stdio: ['ignore', 'pipe', 'pipe'] });
    running.push({ proc: this.proc, group: options.detached === true });
    this.proc.stdout!.setEncoding('utf8').on('data', (s: string) => (this.stdout += s));
    this.proc.stderr!.setEncoding('utf8').on('data', (s: string) => (this.stderr += s));
    this.exited = new Promise((resolve, reject) => {
      this.proc.on('error', reject);
      this.proc.on('close', (code, signal) => resolve({ code, signal, stdout: this.stdout, stderr: this.stderr }));
    });
  }

  /** Resolves with the first match of `pattern` in the output, once it appears; fails if the child exits first or after `timeout` ms. */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp, timeout = 15_000): Promise<RegExpMatchArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = this[stream].match(pattern);
        if (match) {
          cleanup();
          resolve(match);
        }
      };
      const onClose = () => {
        check();
        cleanup();
        reject(new Error(`exited before ${pattern} appeared on ${stream}:\n${this.stdout}\n${this.stderr}`));
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`${pattern} did not appear on ${stream} within ${timeout} ms:\n${this.stdout}\n${this.stderr}`));
      }, timeout);
      const cleanup = () => {
        clearTimeout(timer);
        this.proc[stream]!.removeListener('data', check);
        this.proc.removeListener('close', onClose);
      };
      this.proc[stream]!.on('data', check);
      this.proc.on('close', onClose);
      check();
    });
  }
}

/** `node bin/zerocopy.js ...args`, or another package's copy of it (`bin`); `detached` gives it a process group of its own, as a shell's job. */
export function zerocopy(args: string[], options: { cwd?: string; bin?: string; env?: NodeJS.ProcessEnv; detached?: boolean } = {}): Child {
  const { bin: script = bin, env, ...rest } = options;
  return new Child(process.execPath, [script, ...args], { ...rest, env: env && { ...process.env, ...env } });
}

/** Runs the command to its end. */
export const runZerocopy = (args: string[], options?: Parameters<typeof zerocopy>[1]) => zerocopy(args, options).exited;

/** Kills every child a test left running, with its process group when it has one of its own (call it after each test). */
export function killLeftovers(): void {
  for (const { proc, group } of running.splice(0)) {
    if (proc.exitCode !== null || proc.signalCode !== null) continue;
    if (group) process.kill(-proc.pid!, 'SIGKILL');
    else proc.kill('SIGKILL');
  }
}
