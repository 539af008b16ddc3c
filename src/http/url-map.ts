// serveStatic's URL to path: what a request's URL names under the root
// (root.ts keeps it there), worked out from the URL alone and so kept for
// the URLs asked most, and the Location of a folder's redirect.
import { extname, join, sep } from 'node:path';
import type { Declined } from './http-error.js';
import type { StaticServing } from './options.js';
import { hiddenStatus, pathBelow, resolveSegments, urlSegments } from './root.js';

/** The path a request asks for under the root, and the URL to redirect relative to. */
export interface RequestPath {
  /** The URL path to map onto the root. */
  pathname: string;
  /** The URL as the client sent it, for redirects (Express: `originalUrl`). */
  original: string;
}

/** What a URL names under the root. */
export interface UrlMapping {
  decline?: undefined;
  /** The file or folder; undefined for an ignored dotfile, which only `fallback` may answer. */
  path: string | undefined;
  /** The URL's path below the root, `.` and `..` resolved (pathBelow()): what a caller judges; undefined for a name too long. */
  below: string | undefined;
  trailingSlash: boolean;
  /** The single-page app's page, for a URL that names nothing and has no extension. */
  fallback: string | undefined;
  /** The URL as the client sent it, split. */
  original: { pathname: string; search: string };
  /** Whether the path lies below the root, not the root itself (a listing's link up). */
  belowRoot: boolean;
}

/** How many URLs' mappings a server keeps. */
const MAPPINGS_MAX = 1024;

function splitUrl(url: string): { pathname: string; search: string } | undefined {
  if (url !== '' && !url.startsWith('/') && !url.startsWith('?')) {
    // The absolute form (`GET http://host/path`): the URL parser resolves dot
    // segments, and never above the root.
    try {
      const parsed = new URL(url);
      return { pathname: parsed.pathname, search: parsed.search };
    } catch {
      return undefined;
    }
  }
  const hash = url.indexOf('#');
  if (hash !== -1) url = url.slice(0, hash);
  const query = url.indexOf('?');
  return query === -1 ? { pathname: url, search: '' } : { pathname: url.slice(0, query), search: url.slice(query) };
}

/** Maps URLs onto `serving.root`, keeping the answers for the last MAPPINGS_MAX URLs. */
export class UrlMapper {
  private readonly rootPrefix: string;
  // A client asks for the same few URLs again and again, and the answer
  // depends on the URL alone. The oldest goes first when it is full.
  private readonly mappings = new Map<string, UrlMapping | Declined>();

  constructor(private readonly serving: Pick<StaticServing, 'root' | 'dotfiles' | 'single'>) {
    this.rootPrefix = serving.root.endsWith(sep) ? serving.root : serving.root + sep;
  }

  /** What the URL names under the root, or why it names nothing that may be served. */
  map(target: RequestPath): UrlMapping | Declined {
    if (target.original !== target.pathname) return this.mapUrl(target);
    let mapping = this.mappings.get(target.pathname);
    if (mapping === undefined) {
      mapping = this.mapUrl(target);
      if (this.mappings.size >= MAPPINGS_MAX) this.mappings.delete(this.mappings.keys().next().value!);
      this.mappings.set(target.pathname, mapping);
    }
    return mapping;
  }

  private mapUrl(target: RequestPath): UrlMapping | Declined {
    const { root, dotfiles, single } = this.serving;
    const url = splitUrl(target.pathname);
    const raw = url && urlSegments(url.pathname);
    if (!url || !raw) return { decline: 400 };
    // The URL as the client sent it, for a redirect or a listing's title.
    const original = target.original === target.pathname ? url : splitUrl(target.original) ?? url;
    // Mounted at `/static`, `/static` arrives as `/`: it is the folder
    // without its slash, to be redirected, as serve-static has it.
    const trailingSlash = url.pathname.endsWith('/') && !(url.pathname === '/' && !original.pathname.endsWith('/'));
    // A single-page app answers what names nothing with its page; a missing
    // asset (a name with an extension) stays 404.
    const fallback = single !== undefined && extname(raw.filter((s) => s !== '').pop() ?? '') === '' ? single : undefined;
    const resolved = resolveSegments(raw);
    const refused = resolved.ok ? hiddenStatus(resolved.segments, dotfiles) : resolved.status;
    if (refused && !(refused === 404 && fallback)) return { decline: refused };
    const segments = resolved.ok ? resolved.segments : undefined;
    const path = segments && !refused ? join(root, ...segments) : undefined;
    // Belt and braces: whatever came out of the URL stays inside root.
    if (path !== undefined && path !== root && !path.startsWith(this.rootPrefix)) return { decline: 403 };
    const below = segments && pathBelow(segments, url.pathname.endsWith('/'));
    return { path, below, trailingSlash, fallback, original, belowRoot: path !== undefined && segments!.length > 0 };
  }
}

/** Percent-encodes what may not appear in a Location header, leaving existing escapes alone. */
function encodeLocation(url: string): string {
  return url.replace(/[^\x21-\x7e]|["<>\\^`{|}]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}

/** Where a folder's URL without its slash redirects: the URL as the client sent it, with the slash. */
export function folderLocation(original: UrlMapping['original']): string {
  // Collapsed leading slashes: `//evil.example/` would leave the site.
  return encodeLocation(`${original.pathname.replace(/^\/+/, '/')}/${original.search}`);
}

/** A URL path decoded for display (a listing's title), or as it is when it cannot be. */
export function decodedPath(pathname: string): string {
  try {
    return decodeURIComponent(pathname);
  } catch {
    return pathname;
  }
}
