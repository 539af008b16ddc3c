// Opening below a root without leaving it (native/open_beneath.h), as the
// `symlinks` serving option uses it: Linux's openat2(RESOLVE_BENEATH) in the
// default build, and the portable walk in the fallback build (the one every
// other system without a call of its own gets), run over the same tree of
// links and held to the same answers: which file each path opens, or why not.
import { closeSync, fstatSync, mkdirSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDescriptors, descriptorsOpenedSince } from './support/descriptors.js';
import { makeTempDir, type TempDir } from './support/files.js';
import { within } from './support/waiting.js';

const require = createRequire(__filename);
const { addonPath } = require('../scripts/build-test-addons.js') as { addonPath: (name: string) => string };

type OpenBeneath = (root: string, path: string, noSymlinks: boolean, done: (errno: number, fd: number) => void) => void;
const builds: Record<string, OpenBeneath> = {
  'openat2 (linux)': (require(join(__dirname, '..', 'build', 'Release', 'zerocopy.node')) as { openBeneath: OpenBeneath }).openBeneath,
  'the walk (fallback)': (require(addonPath('fallback')) as { openBeneath: OpenBeneath }).openBeneath,
};

let dir: TempDir;
let root: string;

beforeAll(() => {
  dir = makeTempDir('zerocopy-beneath-');
  root = join(dir.path, 'root');
  mkdirSync(join(root, 'docs', 'deep'), { recursive: true });
  writeFileSync(join(dir.path, 'secret.txt'), 'outside\n');
  writeFileSync(join(root, 'a.txt'), 'a\n');
  writeFileSync(join(root, 'docs', 'deep', 'b.txt'), 'b\n');
  symlinkSync('a.txt', join(root, 'to-a')); // inside, relative
  symlinkSync('../a.txt', join(root, 'docs', 'up-to-a')); // inside, through ..
  symlinkSync('docs/deep', join(root, 'deep-dir')); // a folder inside
  symlinkSync('../secret.txt', join(root, 'to-secret')); // outside, relative
  symlinkSync(join(dir.path, 'secret.txt'), join(root, 'abs-secret')); // outside, absolute
  symlinkSync(join(root, 'a.txt'), join(root, 'abs-inside')); // inside, absolute
  symlinkSync(root, join(root, 'docs', 'abs-root')); // the root, absolute
  symlinkSync('..', join(root, 'docs', 'parent')); // the root itself, through a folder link
  symlinkSync('../..', join(root, 'docs', 'grand')); // above the root
  symlinkSync('loop-b', join(root, 'loop-a'));
  symlinkSync('loop-a', join(root, 'loop-b'));
  symlinkSync('/proc/self/root/etc/hostname', join(root, 'magic'));
});

afterAll(() => dir?.remove());

/** What opening `path` gives: the name of the file opened (by inode), or the error code. */
function opened(open: OpenBeneath, path: string, noSymlinks: boolean): Promise<string> {
  const names = new Map([
    [statSync(join(root, 'a.txt')).ino, 'a.txt'],
    [statSync(join(root, 'docs', 'deep', 'b.txt')).ino, 'b.txt'],
    [statSync(join(dir.path, 'secret.txt')).ino, 'SECRET'],
  ]);
  return within(
    new Promise((resolve) =>
      open(root, path, noSymlinks, (errno, fd) => {
        if (errno) return resolve(errno === 18 ? 'EXDEV' : errno === 40 ? 'ELOOP' : errno === 2 ? 'ENOENT' : errno === 21 ? 'EISDIR' : `errno ${errno}`);
        const st = fstatSync(fd);
        closeSync(fd);
        resolve(names.get(st.ino) ?? (st.isDirectory() ? 'a folder' : 'another file'));
      }),
    ),
    5000,
    `opening ${path}`,
  );
}

// path -> [with links followed inside the root, with no link followed]
const CASES: Record<string, [string, string]> = {
  'a.txt': ['a.txt', 'a.txt'],
  'docs/deep/b.txt': ['b.txt', 'b.txt'],
  'docs/../a.txt': ['a.txt', 'a.txt'],
  '../root/a.txt': ['EXDEV', 'EXDEV'],
  'to-a': ['a.txt', 'ELOOP'],
  'docs/up-to-a': ['a.txt', 'ELOOP'],
  'deep-dir/b.txt': ['b.txt', 'ELOOP'],
  'docs/parent/a.txt': ['a.txt', 'ELOOP'],
  'to-secret': ['EXDEV', 'ELOOP'],
  'abs-secret': ['EXDEV', 'ELOOP'],
  'abs-inside': ['a.txt', 'ELOOP'],
  'docs/abs-root/docs/deep/b.txt': ['b.txt', 'ELOOP'],
  'docs/grand/secret.txt': ['EXDEV', 'ELOOP'],
  'loop-a': ['ELOOP', 'ELOOP'],
  magic: ['EXDEV', 'ELOOP'],
  'missing.txt': ['ENOENT', 'ENOENT'],
  'docs/missing/b.txt': ['ENOENT', 'ENOENT'],
};

describe.each(Object.entries(builds))('openBeneath by %s', (_name, open) => {
  it('opens what lies below the root, follows links only as far as the root, and refuses the rest', async () => {
    const before = openDescriptors();
    const got: Record<string, [string, string]> = {};
    for (const path of Object.keys(CASES)) got[path] = [await opened(open, path, false), await opened(open, path, true)];
    expect(got).toEqual(CASES);
    expect(descriptorsOpenedSince(before)).toEqual([]);
  });
});
