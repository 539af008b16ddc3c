// This process's file descriptors, read from /proc (Linux): which are open,
// how many, and a descriptor's flags. The tests use them to prove that a
// transfer closes every descriptor it opened, and leaves the caller's as it
// found them.
//
// epoll registrations count too: the kernel keeps one as long as its file
// is open through any descriptor, so a registration that was not removed
// before its own descriptor closed stays behind, under a number nobody owns.
//
// Two kinds of leak check, for two situations: `descriptorsOpenedSince` looks
// once (right after awaited calls whose descriptors are closed before they
// settle), `expectNoDescriptorLeak` waits for closes that may lag a tick
// behind the promise that reports them (sockets, servers).
import { fstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { eventually } from './waiting.js';

/** The open descriptors: number -> what it points at (a path, `socket:[inode]`, `pipe:[inode]`...). */
export function openDescriptors(): Map<number, string> {
  const fds = new Map<number, string>();
  for (const name of readdirSync('/proc/self/fd')) {
    try {
      const target = readlinkSync(`/proc/self/fd/${name}`);
      // The directory handle the listing itself used, if its number is open again.
      if (/^\/proc\/\d+\/fd$/.test(target)) continue;
      fds.set(Number(name), target);
    } catch {
      // Closed between the listing and the readlink (often the listing's own handle).
    }
  }
  return fds;
}

/**
 * How many descriptors are open, counting the listing's own handle. Cheap
 * enough to poll; compare two counts, never a count with a fixed number.
 */
export function countOpenDescriptors(): number {
  return readdirSync('/proc/self/fd').length;
}

/**
 * The descriptors open now that were not open (or pointed elsewhere) in
 * `before`, as `fd -> target` lines: `[]` when nothing leaked.
 */
export function descriptorsOpenedSince(before: Map<number, string>): string[] {
  return [...openDescriptors()].filter(([fd, target]) => before.get(fd) !== target).map(([fd, target]) => `${fd} -> ${target}`);
}

/**
 * Waits until every descriptor opened since `before` is closed again; fails
 * after `timeoutMs` with the list of those still open.
 */
export function expectNoDescriptorLeak(before: Map<number, string>, timeoutMs = 3000): Promise<void> {
  return eventually(
    () => descriptorsOpenedSince(before).length === 0,
    () => `descriptors leaked: ${descriptorsOpenedSince(before).join(', ')}`,
    timeoutMs,
  );
}

/** A descriptor's status flags (O_NONBLOCK, O_APPEND, ...), from /proc/self/fdinfo. */
export function descriptorFlags(fd: number): number {
  const m = readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8').match(/^flags:\s+([0-7]+)$/m);
  if (!m) throw new Error(`no flags in /proc/self/fdinfo/${fd}`);
  return parseInt(m[1], 8);
}

/**
 * A descriptor number that is not open, well above every open one so that
 * nothing opens it while a test runs (a just-closed number can be reused by
 * any concurrent open in the process).
 */
export function unusedDescriptorNumber(): number {
  return Math.max(...openDescriptors().keys()) + 64;
}

/** One registration in one of this process's epoll instances (libuv's, the addon driver's). */
export interface EpollWatch {
  /** The epoll instance's descriptor. */
  epoll: number;
  /** The number the watched descriptor was registered under. */
  fd: number;
  /** The inode of the file it was registered as. */
  ino: number;
}

/** Every registration of every epoll instance in this process, from /proc/self/fdinfo. */
export function epollWatches(): EpollWatch[] {
  const watches: EpollWatch[] = [];
  for (const [epoll, target] of openDescriptors()) {
    if (target !== 'anon_inode:[eventpoll]') continue;
    let info: string;
    try {
      info = readFileSync(`/proc/self/fdinfo/${epoll}`, 'utf8');
    } catch {
      continue; // closed since the listing
    }
    for (const m of info.matchAll(/^tfd:\s+(\d+)\s.*\bino:([0-9a-f]+)/gm)) watches.push({ epoll, fd: Number(m[1]), ino: parseInt(m[2], 16) });
  }
  return watches;
}

/**
 * Registrations whose descriptor is closed, or is another file now, as
 * `epoll N: fd (inode I)` lines: `[]` when nothing was left behind.
 */
export function staleEpollWatches(): string[] {
  const stale = (w: EpollWatch) => {
    try {
      return fstatSync(w.fd).ino !== w.ino;
    } catch {
      return true;
    }
  };
  return epollWatches()
    .filter(stale)
    .map((w) => `epoll ${w.epoll}: ${w.fd} (inode ${w.ino})`);
}
