// Files for the tests to send: temporary folders that the tests remove when
// done, files of random bytes, and the fixed tree of files the serve tests
// serve. Real files on the real file system, never mocks.
import { randomBytes, randomFillSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TempDir {
  path: string;
  /** A new path inside the folder (not created): `name`, or a fresh name. */
  file(name?: string): string;
  /** Writes `content` to a new file in the folder and returns its path. */
  write(content: Buffer | string, name?: string): string;
  /** Removes the folder and everything in it. */
  remove(): void;
}

let fileCounter = 0;

/** A new, empty folder under the system's temporary folder. */
export function makeTempDir(prefix = 'zerocopy-test-'): TempDir {
  const path = mkdtempSync(join(tmpdir(), prefix));
  const file = (name?: string) => join(path, name ?? `f${++fileCounter}`);
  return {
    path,
    file,
    write(content, name) {
      const p = file(name);
      writeFileSync(p, content);
      return p;
    },
    remove() {
      rmSync(path, { recursive: true, force: true });
    },
  };
}

export interface TestFile {
  path: string;
  /** The file's content, to compare with what arrives. */
  data: Buffer;
}

/**
 * A file of `size` fresh random bytes in `dir`: any loss, repetition or
 * reordering of the bytes shows when they are compared with `data`.
 */
export function writeRandomFile(dir: TempDir, name: string, size: number): TestFile {
  const data = randomFillSync(Buffer.allocUnsafe(size));
  return { path: dir.write(data, name), data };
}

export interface ServeFixtures extends TempDir {
  /** small.txt: 1 KiB of text. */
  small: Buffer;
  /** data.bin: 300 000 random bytes. */
  data: Buffer;
  /** Path of big.bin, 64 MiB of zeros (sparse). */
  bigPath: string;
  bigSize: number;
}

/**
 * The tree the serve tests serve: small.txt, data.bin, empty.txt,
 * page.html, style.css, noext, docs/index.html, docs/guide.txt, empty-dir/
 * and big.bin, in a new temporary folder.
 */
export function makeServeFixtures(): ServeFixtures {
  const dir = makeTempDir('zerocopy-serve-');
  const small = Buffer.from('0123456789abcdef'.repeat(64));
  const data = randomBytes(300_000);
  dir.write(small, 'small.txt');
  dir.write(data, 'data.bin');
  dir.write('', 'empty.txt');
  dir.write('<!doctype html><title>page</title>\n', 'page.html');
  dir.write('body { color: red }\n', 'style.css');
  dir.write('no extension\n', 'noext');
  mkdirSync(dir.file('docs'));
  dir.write('<!doctype html><title>docs</title>\n', join('docs', 'index.html'));
  dir.write('the guide\n', join('docs', 'guide.txt'));
  mkdirSync(dir.file('empty-dir'));
  const bigPath = dir.write('', 'big.bin');
  const bigSize = 64 * 1024 * 1024;
  truncateSync(bigPath, bigSize);
  return { ...dir, small, data, bigPath, bigSize };
}
