// Opening the files we send: the one opener for sendFile's inputs, serving
// and the open-file cache. Plain descriptors rather than FileHandles: a
// regular file's close(2) is cheap enough to make on the spot, where
// FileHandle.close() costs a threadpool round trip.
import { closeSync, constants as fsConstants, fstatSync, open, type Stats } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import { relative, sep } from 'node:path';
import { promisify } from 'node:util';
import type { Input } from './arguments.js';
import { invalidArgValue, systemError } from './errors.js';
import { binding } from './native.js';

/** Never block: open(2) of a FIFO waits for a writer, on a threadpool thread that then serves nobody else. */
const OPEN_FLAGS = fsConstants.O_RDONLY | (fsConstants.O_NONBLOCK ?? 0);

const openAsync = promisify(open);

export type Opened = { kind: 'file'; fd: number; stat: Stats } | { kind: 'directory' } | { kind: 'other' };

/**
 * What open(2) says of a path that names neither a file nor a folder: a
 * Unix-domain socket (ENXIO on Linux, EOPNOTSUPP on the BSDs), a device
 * without its driver (ENXIO). Like a FIFO, it is something else.
 */
const NOT_OPENABLE = new Set(['ENXIO', 'EOPNOTSUPP']);

/** Opens `path`: a regular file stays open for the caller; anything else is closed at once. */
export async function openRegular(path: string): Promise<Opened> {
  let fd: number;
  try {
    fd = await openAsync(path, OPEN_FLAGS);
  } catch (error) {
    if (NOT_OPENABLE.has((error as NodeJS.ErrnoException).code ?? '')) return { kind: 'other' };
    throw error;
  }
  return classify(fd);
}

/** Where symbolic links below a root may lead: anywhere inside it, or nowhere (none is followed). */
export type Beneath = { root: string; symlinks: 'inside' | 'refuse' };

const { ELOOP, EXDEV } = osConstants.errno;

/**
 * openRegular() for `path` below `beneath.root`, refusing what would leave
 * it: EXDEV for a link that leads outside the root, ELOOP for any link
 * with `symlinks: 'refuse'`. The addon checks while it opens, so nothing
 * can change between the check and the open; without it, the resolved
 * path is checked, then the file opened there is checked to be the one
 * the check saw.
 */
export async function openBeneath(path: string, beneath: Beneath): Promise<Opened> {
  const below = relative(beneath.root, path);
  if (!binding) return openResolved(path, below, beneath);
  const fd = await new Promise<number>((resolve, reject) =>
    binding!.openBeneath(beneath.root, below, beneath.symlinks === 'refuse', (errno, fd) => (errno ? reject(systemError(errno, 'open')) : resolve(fd))),
  ).catch((error: NodeJS.ErrnoException) => {
    if (NOT_OPENABLE.has(error.code ?? '')) return undefined;
    throw error;
  });
  return fd === undefined ? { kind: 'other' } : classify(fd);
}

/** openBeneath() without the addon: by the real paths, as well as that can be done from JavaScript. */
async function openResolved(path: string, below: string, beneath: Beneath): Promise<Opened> {
  const [real, realRoot] = await Promise.all([realpath(path), realpath(beneath.root)]);
  const realBelow = relative(realRoot, real);
  if (beneath.symlinks === 'refuse' && realBelow !== below) throw systemError(ELOOP, 'open');
  if (realBelow === '..' || realBelow.startsWith(`..${sep}`)) throw systemError(EXDEV, 'open');
  const opened = await openRegular(real);
  // A link put in place since realpath() would have been followed by the open.
  if (opened.kind === 'file' && (await realpath(real)) !== real) {
    closeSync(opened.fd);
    throw systemError(EXDEV, 'open');
  }
  return opened;
}

/** What an open descriptor is: a regular file stays open for the caller; anything else is closed at once. */
function classify(fd: number): Opened {
  let keep = false;
  try {
    // fstat of an open descriptor reads the inode the kernel already holds:
    // not worth a second threadpool round trip.
    const stat = fstatSync(fd);
    if (stat.isDirectory()) return { kind: 'directory' };
    if (!stat.isFile()) return { kind: 'other' };
    keep = true;
    return { kind: 'file', fd, stat };
  } finally {
    if (!keep) closeSync(fd);
  }
}

/** A transfer's input: open, known to be a regular file, and its size. */
export interface InputFile {
  fd: number;
  size: bigint;
  /** Closes what we opened; a descriptor the caller passed stays theirs. */
  close(): void;
}

export async function openInput(input: Input): Promise<InputFile> {
  if (input.kind === 'fd') {
    const st = fstatSync(input.fd, { bigint: true });
    if (st.isDirectory()) throw systemError(21 /* EISDIR */, 'read');
    if (!st.isFile()) throw invalidArgValue('input', input.fd, 'must be a regular file');
    return { fd: input.fd, size: st.size, close: () => {} };
  }
  const opened = await openRegular(input.path);
  if (opened.kind === 'directory') throw systemError(21 /* EISDIR */, 'read');
  if (opened.kind === 'other') throw invalidArgValue('input', input.path, 'must be a regular file');
  const { fd } = opened;
  return { fd, size: BigInt(opened.stat.size), close: () => closeSync(fd) };
}
