// capabilities(): what this process can do, as the addon reports it.
import { arch, platform } from 'node:os';
import type { Backend } from './arguments.js';
import { binding, loadError, nativeCaps } from './native.js';
import { receiveBackends, type ReceiveBackend } from './receive-file.js';
import { relayBackends, type RelayBackend } from './relay.js';
import { STREAM_CHUNK } from './stream.js';

export interface Capabilities {
  platform: NodeJS.Platform;
  arch: string;
  /** Whether the native addon loaded in this process. */
  native: boolean;
  /** Why it did not, when it did not. */
  loadError?: string;
  /** Backends this process can use, best first; `stream` is always last. */
  backends: Backend[];
  /** Whether the preferred backend keeps file bytes out of user space. */
  zeroCopy: boolean;
  /** How headers and trailers join the file: in the system call (`vector`), held by TCP_CORK (`cork`), or written separately (`copy`). */
  headersTrailers: 'vector' | 'cork' | 'copy';
  /** Whether the mmap backend can hold a read lease on the file (for transfers with `lease: true`), so that another process opening it for writing or truncating it stops the transfer before the file changes. */
  leases: boolean;
  /** Whether a regular file can be the output. */
  fileToFile: boolean;
  /** Whether a pipe can be the output. */
  fileToPipe: boolean;
  /** The most bytes one system call moves. */
  maxChunk: number;
  /** How the addon's driver thread waits for sockets and pipes to take more: `'epoll'` (Linux), `'kqueue'` (FreeBSD, DragonFly, macOS), `'ports'` (Solaris, illumos), `'devpoll'` (HP-UX), or `'poll'` elsewhere; `'none'` without the addon. */
  waiter: string;
  /** receiveFile(): its backends, best first (`stream` last), and whether the best keeps the bytes out of user space. */
  receive: { backends: ReceiveBackend[]; zeroCopy: boolean };
  /** relay(): the same (`sosplice`: the kernel relays on its own). */
  relay: { backends: RelayBackend[]; zeroCopy: boolean };
}

/** A direction's backends, and whether the best of them is zero-copy. */
function direction<B extends string>(backends: readonly string[]): { backends: B[]; zeroCopy: boolean } {
  return { backends: [...backends] as B[], zeroCopy: nativeCaps?.movers?.find((m) => m.name === backends[0])?.zeroCopy ?? false };
}

/** Every backend's name, best first; `stream` is always last. */
export const allBackends: readonly Backend[] = [...(nativeCaps?.backends.map((b) => b.name) ?? []), 'stream'];

export function capabilities(): Capabilities {
  const caps: Capabilities = {
    platform: platform(),
    arch: arch(),
    native: binding !== undefined,
    backends: [...allBackends],
    zeroCopy: nativeCaps?.backends[0]?.zeroCopy ?? false,
    headersTrailers: nativeCaps?.headersTrailers ?? 'copy',
    leases: nativeCaps?.leases ?? false,
    fileToFile: true,
    fileToPipe: true,
    maxChunk: nativeCaps?.maxChunk ?? STREAM_CHUNK,
    waiter: nativeCaps?.waiter ?? 'none',
    receive: direction<ReceiveBackend>(receiveBackends),
    relay: direction<RelayBackend>(relayBackends),
  };
  if (loadError !== undefined) caps.loadError = loadError;
  return caps;
}
