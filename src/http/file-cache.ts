// Opening files for serving (serveStatic's per handler, serveFile's shared
// by every call), optionally through a cache of open descriptors and their
// stat results for hot files, like nginx's open_file_cache, and of the
// contents of small ones for what must send bytes from memory (TLS, HTTP/2). An entry is dropped when the file changes (fs.watch, that
// is inotify on Linux), and in any case revalidated by stat() once it is
// older than `validMs`, so that a change the watcher cannot see (a parent
// directory renamed) is noticed too. A descriptor in use by a response stays
// open until that response is done with it.
import { stat as statPath } from 'node:fs/promises';
import { closeSync, fstatSync, read, watch, type FSWatcher, type Stats } from 'node:fs';
import { openBeneath, openRegular, type Beneath, type Opened } from '../open-file.js';
import { binding } from '../native.js';
import type { PreparedFields } from './http1.js';

/**
 * Header values that follow from a file's name and stat, worked out once
 * per open file instead of once per response: the cache keeps them with
 * the descriptor, and drops them with it when the file changes.
 */
export interface HeaderMemo {
  contentType?: string;
  lastModified?: string;
  etag?: { strong?: string; weak?: string };
  /** The fields of a 200 with the whole file, for the settings whose fieldsKey is `key`. */
  whole?: { key: string; fields: PreparedFields };
}

export interface OpenedFile {
  fd: number;
  stat: Stats;
  /**
   * The header values kept for this file as it is sent: as itself
   * (`encoding` undefined), or as the `encoding` of the file named without
   * its suffix (a precompressed sibling), whose type and tag differ.
   */
  memo(encoding?: string): HeaderMemo;
  /** The bytes of a small file the cache keeps open, over a mapping made at the first call; else undefined. */
  mapped(): Buffer | undefined;
  /**
   * The file's contents, a copy the cache keeps, for writers that hand
   * bytes to JavaScript or OpenSSL (a mapping would fault there when the
   * file shrinks): undefined until they are read, which the first call
   * starts, and for a file too large or a cache without room.
   */
  contents(): Buffer | undefined;
  /** Gives the descriptor back; it is closed unless the cache keeps it. */
  release(): void;
}

export type Lookup = { kind: 'file'; file: OpenedFile } | { kind: 'directory' } | { kind: 'other' };
type Loaded = Exclude<Lookup, { kind: 'file' }> | { kind: 'entry'; entry: Entry };

export interface FileCacheOptions {
  /** Most files kept open. Default 256. */
  max?: number;
  /** How long an entry is trusted without a stat(), in milliseconds. Default 5000. */
  validMs?: number;
  /** Most bytes of file contents kept in memory, for HTTPS and HTTP/2 (files of up to 1 MiB, the least recently used dropped first). Default 32 MiB; 0 for none. */
  contentBytes?: number;
}

/** The largest file whose contents the cache keeps. */
const CONTENT_FILE_MAX = 1024 * 1024;

interface Entry {
  path: string;
  /** The path, and how its links were checked (see keyOf). */
  key: string;
  fd: number;
  stat: Stats;
  /** HeaderMemos by the encoding the file is sent as ('' for itself). */
  memos: Record<string, HeaderMemo>;
  /** mapSmallFile()'s answer, once asked: null when there is none. */
  mapping?: Buffer | null;
  /** The file's contents once read; null when they will not be kept. */
  content?: Buffer | null;
  /** Whether its contents are being read. */
  reading?: boolean;
  validated: number;
  refs: number;
  evicted: boolean;
  handleClosed: boolean;
  watcher?: FSWatcher;
}

function closeEntry(entry: Entry): void {
  if (entry.handleClosed) return;
  entry.handleClosed = true;
  // The mapping outlives the descriptor until the responses holding it are collected.
  entry.mapping = null;
  entry.content = null;
  closeSync(entry.fd);
}

// A system call costs more than copying a few pages (several microseconds
// on a virtual machine against well under one): a small file sent from a
// mapping goes with its head in one writev, where sendfile needs a second
// call for the head. Larger files stay zero-copy.
const MAPPED_MAX = 64 * 1024;

/**
 * A small file's bytes over a read-only mapping, for the kernel to send
 * many times (a response's writev); undefined for a larger file or where
 * mappings cannot be had. Never for JavaScript to read: see NativeBinding.mapFile.
 */
function mapSmallFile(fd: number, size: number): Buffer | undefined {
  return binding && size > 0 && size <= MAPPED_MAX ? binding.mapFile(fd, size) : undefined;
}

/** Reads `size` bytes of a file from its start, on the threadpool: the bytes, or undefined when it holds fewer or the read failed. */
function readWhole(fd: number, size: number, done: (content: Buffer | undefined) => void): void {
  const buffer = Buffer.allocUnsafeSlow(size);
  const next = (filled: number) =>
    read(fd, buffer, filled, size - filled, filled, (error, bytesRead) => {
      if (error || bytesRead === 0) return done(undefined);
      if (filled + bytesRead === size) return done(buffer);
      next(filled + bytesRead);
    });
  next(0);
}

/** Opens `path`, checking its links as `beneath` says when it is given. */
const open = (path: string, beneath: Beneath | undefined): Promise<Opened> => (beneath ? openBeneath(path, beneath) : openRegular(path));

/**
 * A cache entry's key: the path alone when links are followed wherever
 * they lead, else also how they were checked and against which root, so
 * that a file opened one way never answers a lookup made the other.
 */
const keyOf = (path: string, beneath: Beneath | undefined) => (beneath ? `${beneath.symlinks}\0${beneath.root}\0${path}` : path);

const sameFile = (a: Stats, b: Stats) =>
  a.dev === b.dev && a.ino === b.ino && a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs;

/** One response's loan of a cached descriptor: methods, not closures, as there is one per request. */
class Loan implements OpenedFile {
  readonly fd: number;
  readonly stat: Stats;
  private released = false;

  constructor(
    private readonly entry: Entry,
    private readonly opener: FileOpener,
  ) {
    this.fd = entry.fd;
    this.stat = entry.stat;
  }

  contents(): Buffer | undefined {
    const { content } = this.entry;
    if (content === undefined) this.opener.readContents(this.entry);
    return content ?? undefined;
  }

  memo(encoding = ''): HeaderMemo {
    return (this.entry.memos[encoding] ??= {});
  }

  mapped(): Buffer | undefined {
    const { entry } = this;
    if (entry.mapping === undefined) entry.mapping = mapSmallFile(entry.fd, entry.stat.size) ?? null;
    return entry.mapping ?? undefined;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.entry.refs--;
    if (this.entry.evicted && this.entry.refs === 0) closeEntry(this.entry);
  }
}

export class FileOpener {
  private readonly entries = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Loaded>>();
  private readonly max: number;
  private readonly validMs: number;
  private readonly contentMax: number;
  /** Bytes of contents kept now. */
  private contentBytes = 0;
  private closed = false;

  constructor(private readonly caching: boolean, options: FileCacheOptions = {}) {
    this.max = options.max ?? 256;
    this.validMs = options.validMs ?? 5000;
    this.contentMax = options.contentBytes ?? 32 * 1024 * 1024;
  }

  /**
   * Starts reading a file's contents into memory, on the threadpool, when
   * they may be kept: a small file, and room in the cache. They are kept
   * only if the file is as its stat said when the read ends; a change
   * after that evicts the entry, contents and all.
   */
  readContents(entry: Entry): void {
    const { size } = entry.stat;
    if (entry.reading || entry.evicted) return;
    if (size === 0 || size > CONTENT_FILE_MAX || size > this.contentMax) {
      entry.content = null;
      return;
    }
    entry.reading = true;
    // Held while the read runs: the descriptor must not close (and its number go to another file) under it.
    entry.refs++;
    readWhole(entry.fd, size, (content) => {
      entry.reading = false;
      const unchanged = content !== undefined && !entry.evicted && sameFile(fstatSync(entry.fd), entry.stat);
      entry.refs--;
      if (entry.evicted && entry.refs === 0) closeEntry(entry);
      if (!unchanged) return;
      entry.content = content;
      this.contentBytes += size;
      this.trimContents(entry);
    });
  }

  /** Drops the contents of the least recently used entries until those kept fit, but `keep`'s. */
  private trimContents(keep: Entry): void {
    for (const entry of this.entries.values()) {
      if (this.contentBytes <= this.contentMax) return;
      if (entry !== keep) this.dropContents(entry);
    }
  }

  private dropContents(entry: Entry): void {
    if (entry.content) this.contentBytes -= entry.content.length;
    entry.content = undefined;
  }

  /** Open descriptors the cache holds (for tests and monitoring). */
  get size(): number {
    return this.entries.size;
  }

  /** lookup() when the cache holds `path` and may trust it without a stat: the common case, without a promise. */
  lookupNow(path: string, beneath?: Beneath): Lookup | undefined {
    const entry = this.caching && !this.closed ? this.entries.get(keyOf(path, beneath)) : undefined;
    return entry && Date.now() - entry.validated < this.validMs ? { kind: 'file', file: this.lend(entry) } : undefined;
  }

  /** What `path` is, opened as `beneath` says (see openBeneath) when it is given. */
  async lookup(path: string, beneath?: Beneath): Promise<Lookup> {
    if (!this.caching || this.closed) {
      const opened = await open(path, beneath);
      if (opened.kind !== 'file') return opened;
      const { fd, stat } = opened;
      // A mapping per request would cost the call it saves, and another.
      return { kind: 'file', file: { fd, stat, memo: () => ({}), mapped: () => undefined, contents: () => undefined, release: () => closeSync(fd) } };
    }
    const hit = this.lookupNow(path, beneath);
    if (hit) return hit;
    const key = keyOf(path, beneath);
    const entry = this.entries.get(key);
    if (entry) {
      const current = await statPath(path).catch(() => undefined);
      if (current && sameFile(current, entry.stat) && !entry.evicted) {
        entry.validated = Date.now();
        return { kind: 'file', file: this.lend(entry) };
      }
      this.evict(entry);
    }
    let loading = this.pending.get(key);
    if (!loading) {
      loading = this.load(path, key, beneath).finally(() => this.pending.delete(key));
      this.pending.set(key, loading);
    }
    const result = await loading;
    if (result.kind !== 'entry') return result;
    // Every request that waited for this load takes its own loan; a
    // descriptor closed meanwhile (the cache closed) means starting again.
    if (result.entry.handleClosed) return this.lookup(path, beneath);
    return { kind: 'file', file: this.lend(result.entry) };
  }

  private async load(path: string, key: string, beneath: Beneath | undefined): Promise<Loaded> {
    const opened = await open(path, beneath);
    if (opened.kind !== 'file') return opened;
    const entry: Entry = { path, key, fd: opened.fd, stat: opened.stat, memos: {}, validated: Date.now(), refs: 0, evicted: false, handleClosed: false };
    try {
      entry.watcher = watch(path, { persistent: false }, () => this.evict(entry));
      entry.watcher.on('error', () => this.evict(entry));
      entry.watcher.unref?.();
    } catch {
      // No watch to be had (inotify's limit reached): serve it uncached; the
      // descriptor closes when the last response using it is done.
      entry.evicted = true;
    }
    if (this.closed) {
      entry.watcher?.close();
      entry.evicted = true;
    }
    if (!entry.evicted) {
      this.entries.set(key, entry);
      while (this.entries.size > this.max) this.evict(this.entries.values().next().value!);
    }
    return { kind: 'entry', entry };
  }

  private lend(entry: Entry): OpenedFile {
    entry.refs++;
    // Most recently used last: the first entry is the one to evict.
    if (!entry.evicted && this.entries.get(entry.key) === entry) {
      this.entries.delete(entry.key);
      this.entries.set(entry.key, entry);
    }
    return new Loan(entry, this);
  }

  private evict(entry: Entry): void {
    if (this.entries.get(entry.key) === entry) this.entries.delete(entry.key);
    if (entry.evicted) return;
    entry.evicted = true;
    this.dropContents(entry);
    entry.watcher?.close();
    if (entry.refs === 0) closeEntry(entry);
  }

  /** Closes every cached descriptor once no response uses it. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.allSettled([...this.pending.values()]);
    const entries = [...this.entries.values()];
    for (const entry of entries) this.evict(entry);
  }
}
