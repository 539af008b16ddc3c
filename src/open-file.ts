// Opening the files we send: the one opener for sendFile's inputs, serving
// and the open-file cache. Plain descriptors rather than FileHandles: a
// regular file's close(2) is cheap enough to make on the spot, where
// FileHandle.close() costs a threadpool round trip.
import { closeSync, constants as fsConstants, fstatSync, open, type Stats } from 'node:fs';
import { promisify } from 'node:util';
import type { Input } from './arguments.js';
import { invalidArgValue, systemError } from './errors.js';

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
