// What the commands print on the way, besides errors: text on stdout, the
// one-line summary of a transfer (send and recv print the same shape, to be
// compared), and the progress line a long transfer redraws on a terminal.
import { performance } from 'node:perf_hooks';

/** Writes `text` to stdout, ending it with a newline, and returns 0: the exit status of a command that only prints. */
export function print(text: string): number {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
  return 0;
}

const MB = 1e6;

/** `N bytes in T s (X MB/s)`: MB are 10^6 bytes. */
export function formatTransfer(bytes: number, seconds: number): string {
  return `${bytes} bytes in ${seconds.toFixed(3)} s (${(bytes / MB / Math.max(seconds, 1e-9)).toFixed(1)} MB/s)`;
}

function formatBytes(n: number): string {
  if (n < 1000) return `${Math.round(n)} B`;
  const units = ['kB', 'MB', 'GB', 'TB', 'PB'];
  let value = n / 1000;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const ss = String(s % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}

/**
 * One line on stderr, redrawn at most four times a second, once a transfer
 * has run for a second; nothing at all when stderr is not a terminal.
 */
export class Progress {
  private timer: NodeJS.Timeout | undefined;
  private started = 0;
  private drawn = false;

  constructor(
    /** Bytes so far. */
    private readonly sample: () => number,
    /** Bytes in all, when known. */
    private readonly total?: number,
    private readonly stream: NodeJS.WriteStream = process.stderr,
  ) {}

  start(): this {
    if (!this.stream.isTTY) return this;
    this.started = performance.now();
    this.timer = setInterval(() => this.draw(), 250);
    this.timer.unref();
    return this;
  }

  private draw(): void {
    const elapsed = (performance.now() - this.started) / 1000;
    if (elapsed < 1) return;
    const bytes = this.sample();
    const parts: string[] = [];
    const rate = bytes / elapsed;
    if (this.total === undefined) parts.push(formatBytes(bytes));
    else parts.push(`${formatBytes(bytes)} of ${formatBytes(this.total)} (${this.total > 0 ? Math.floor((100 * bytes) / this.total) : 100}%)`);
    parts.push(`${formatBytes(rate)}/s`);
    if (this.total !== undefined && rate > 0) parts.push(`${formatDuration((this.total - bytes) / rate)} left`);
    else parts.push(`${formatDuration(elapsed)} elapsed`);
    const line = `\r${parts.join('  ')}\x1b[K`;
    this.stream.write(line);
    this.drawn = true;
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
    if (this.drawn) {
      this.stream.write('\r\x1b[K');
      this.drawn = false;
    }
  }
}
