// Directory listings for serveStatic's `listing: true`: a folder without an
// index file, asked for with a trailing slash, answered with an HTML page of
// links, or with JSON for clients that prefer `application/json`. The
// dotfiles policy hides from the listing what it would not serve.
import type { Stats } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import type { IncomingMessage } from 'node:http';
import { join } from 'node:path';
import Negotiator from 'negotiator';
import type { ServeRequest, ServeResponse } from './options.js';
import { escapeHtml, htmlDocument, HTML_TYPE, PAGE_HEADERS } from './pages.js';
import { hidden, type Dotfiles } from './root.js';
import { writeStatus } from './write.js';

export interface ListingEntry {
  name: string;
  type: 'file' | 'directory';
  /** Bytes; null for a directory. */
  size: number | null;
  /** Last modification, ISO 8601. */
  mtime: string;
}

/**
 * The files and folders in `dir` the dotfiles policy lets through, folders
 * first, each group by name. Symbolic links are followed (a broken one is
 * left out), and whatever is neither file nor folder (sockets, FIFOs) too.
 */
export async function readListing(dir: string, dotfiles: Dotfiles): Promise<ListingEntry[]> {
  const names = (await readdir(dir)).filter((name) => dotfiles === 'allow' || !hidden(name));
  const stats = await Promise.all(names.map((name) => stat(join(dir, name)).catch(() => undefined)));
  const entries: ListingEntry[] = [];
  names.forEach((name, i) => {
    const s: Stats | undefined = stats[i];
    if (!s || !(s.isFile() || s.isDirectory())) return;
    const directory = s.isDirectory();
    entries.push({ name, type: directory ? 'directory' : 'file', size: directory ? null : s.size, mtime: s.mtime.toISOString() });
  });
  const byName = (a: ListingEntry, b: ListingEntry) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  return entries.sort((a, b) => (a.type === b.type ? byName(a, b) : a.type === 'directory' ? -1 : 1));
}

function listingPage(title: string, entries: ListingEntry[], parent: boolean): string {
  const rows = entries.map((e) => {
    const href = encodeURIComponent(e.name) + (e.type === 'directory' ? '/' : '');
    const label = escapeHtml(e.name) + (e.type === 'directory' ? '/' : '');
    const size = e.size === null ? '-' : String(e.size);
    return `<tr><td><a href="${escapeHtml(href)}">${label}</a></td><td>${size}</td><td>${e.mtime}</td></tr>`;
  });
  if (parent) rows.unshift('<tr><td><a href="../">../</a></td><td></td><td></td></tr>');
  return htmlDocument(
    `Index of ${title}`,
    `<h1>Index of ${escapeHtml(title)}</h1>\n<table>\n<tr><th>Name</th><th>Size</th><th>Modified</th></tr>\n${rows.join('\n')}\n</table>`,
  );
}

/**
 * Answers with the listing of `dir`: JSON when the client prefers
 * `application/json` to `text/html`, else the HTML page. `title` is the URL
 * path shown; `parent` says whether a `../` link stays inside the root.
 */
export async function writeListing(req: ServeRequest, res: ServeResponse, dir: string, title: string, parent: boolean, dotfiles: Dotfiles): Promise<void> {
  const entries = await readListing(dir, dotfiles);
  const preferred = new Negotiator(req as IncomingMessage).mediaType(['text/html', 'application/json']);
  res.setHeader('Vary', 'Accept');
  if (preferred === 'application/json') {
    await writeStatus(req, res, 200, JSON.stringify(entries), 'application/json; charset=utf-8');
    return;
  }
  for (const [name, value] of Object.entries(PAGE_HEADERS)) res.setHeader(name, value);
  await writeStatus(req, res, 200, listingPage(title, entries, parent), HTML_TYPE);
}
