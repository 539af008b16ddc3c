// Keeping paths inside a root folder: the one place where a path that a
// client (a URL) or a caller (serveFile's `path` with `root`) names becomes a
// file below that folder, or a refusal. It follows send, which Express,
// serve-static and @fastify/static share: `.` and empty segments are dropped,
// `..` climbs within the path and is refused (403) as soon as it would climb
// above the root, so `/docs/../a.txt` is `/a.txt` and `/../a.txt` is nothing.
// The dotfiles policy looks only at what lies below the root, and lets
// `.well-known` (RFC 8615) through as sirv does.
import { isAbsolute, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What to do with a path that has a segment starting with a dot: serve it, 403, or 404 as if absent. */
export type Dotfiles = 'allow' | 'deny' | 'ignore';

/** Where symbolic links below a root may lead: anywhere (`'follow'`), only inside the root, or nowhere. */
export type Symlinks = 'follow' | 'inside' | 'refuse';

export type Contained = { ok: true; segments: string[] } | { ok: false; status: 400 | 403 | 404 };

/** The longest path (decoded, in bytes) and segment looked up; longer ones are 404, as the file system's ENAMETOOLONG. */
const MAX_PATH = 4096;
const MAX_SEGMENT = 255;

/** Whether a name is hidden by the dotfiles policy: it starts with a dot and is not `.well-known`. */
export const hidden = (segment: string) => segment.charCodeAt(0) === 0x2e && segment !== '.well-known';

/**
 * Resolves `.` and `..` among decoded path segments: the segments of a path
 * below the root, or the status that refuses it (400 for a NUL, 403 for
 * climbing above the root, 404 for a name too long).
 */
export function resolveSegments(raw: readonly string[]): Contained {
  const segments: string[] = [];
  for (const segment of raw) {
    if (segment.includes('\0')) return { ok: false, status: 400 };
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length === 0) return { ok: false, status: 403 };
      segments.pop();
      continue;
    }
    // A backslash separates on Windows, and send refuses a `..` between
    // backslashes everywhere: no less a climb.
    if (segment.includes('\\') && segment.split('\\').includes('..')) return { ok: false, status: 403 };
    segments.push(segment);
  }
  let length = 0;
  for (const segment of segments) {
    const bytes = Buffer.byteLength(segment);
    length += bytes + 1;
    if (bytes > MAX_SEGMENT || length > MAX_PATH) return { ok: false, status: 404 };
  }
  return { ok: true, segments };
}

/** The dotfiles policy's answer to a path below the root: the status refusing it (403 denied, 404 ignored), or undefined. */
export function hiddenStatus(segments: readonly string[], dotfiles: Dotfiles): 403 | 404 | undefined {
  if (dotfiles === 'allow' || !segments.some(hidden)) return undefined;
  return dotfiles === 'deny' ? 403 : 404;
}

/** resolveSegments(), then the dotfiles policy. */
export function containSegments(raw: readonly string[], dotfiles: Dotfiles): Contained {
  const resolved = resolveSegments(raw);
  const status = resolved.ok ? hiddenStatus(resolved.segments, dotfiles) : undefined;
  return status ? { ok: false, status } : resolved;
}

/** A path below the root as a URL path names it (`/docs/a.txt`), for a caller's judgement (Fastify's allowedPath). */
export const pathBelow = (segments: readonly string[], trailingSlash: boolean) => `/${segments.join('/')}${trailingSlash && segments.length > 0 ? '/' : ''}`;

/**
 * Splits a URL path into decoded segments. An encoded slash or backslash (or
 * a backslash at all) would be a separator to someone: refused (400) rather
 * than guessed at, as is bad percent-encoding.
 */
export function urlSegments(pathname: string): string[] | undefined {
  if (/%2f|%5c|\\/i.test(pathname)) return undefined;
  const segments = pathname.split('/');
  try {
    for (let i = 0; i < segments.length; i++) if (segments[i].includes('%')) segments[i] = decodeURIComponent(segments[i]);
  } catch {
    return undefined;
  }
  return segments;
}

/** A `..` segment, between slashes or backslashes or at either end. */
const CLIMB = /(?:^|[\\/])\.\.(?:[\\/]|$)/;

/** The file serveFile names, and with a root, the path below it (pathBelow()) that a caller may judge. */
export type Located = { ok: true; path: string; below?: string } | { ok: false; status: 400 | 403 | 404 };

/**
 * The file serveFile names: `path` inside `root` when there is one (a string
 * is taken relative to it, leading slash or not, as `res.sendFile(path, {
 * root })` takes it; a `file:` URL must point inside it), else `path` itself,
 * refused when a `..` segment could take it anywhere (send's rule without a
 * root, which keeps `serveFile(req, res, 'public' + req.url)` in `public`).
 */
export function locate(path: string | URL, root: string | undefined, dotfiles: Dotfiles): Located {
  if (path instanceof URL) {
    const file = fileURLToPath(path);
    if (root === undefined) return checkDotfiles(file, dotfiles);
    const below = relative(root, file);
    if (below === '..' || below.startsWith(`..${sep}`) || isAbsolute(below)) return { ok: false, status: 403 };
    return within(root, below.split(sep), dotfiles);
  }
  if (root !== undefined) return within(root, path.split('/'), dotfiles);
  if (path.includes('\0')) return { ok: false, status: 400 };
  if (CLIMB.test(path)) return { ok: false, status: 403 };
  return checkDotfiles(path, dotfiles);
}

function within(root: string, raw: string[], dotfiles: Dotfiles): Located {
  const contained = containSegments(raw, dotfiles);
  return contained.ok ? { ok: true, path: join(root, ...contained.segments), below: pathBelow(contained.segments, false) } : contained;
}

/** Without a root, an explicit dotfiles policy looks at the whole path, as send's does. */
function checkDotfiles(path: string, dotfiles: Dotfiles): Located {
  if (dotfiles !== 'allow' && path.split(/[\\/]/).some((s) => s.length > 1 && hidden(s))) {
    return { ok: false, status: dotfiles === 'deny' ? 403 : 404 };
  }
  return { ok: true, path };
}
