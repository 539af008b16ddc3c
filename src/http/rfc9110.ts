// RFC 9110's decisions for a file response, as pure functions of the
// request's headers and the representation's validators: preconditions
// (§13), ranges (§14) and the multipart/byteranges framing (§14.6). Nothing
// here touches a response; http/respond.ts applies the answers.
import fresh from 'fresh';
import parseRange from 'range-parser';

/** Reads one request header, several occurrences joined by commas. */
export type HeaderReader = (name: string) => string | undefined;

/** What the response says about the representation: the caller's own values if it set them. */
export interface Validators {
  etag: string | undefined;
  lastModified: string | undefined;
  /** The file's modification time, for If-Unmodified-Since when no Last-Modified is sent. */
  mtimeMs: number;
}

function tokenList(value: string): string[] {
  return value
    .split(',')
    .map((t) => t.trim())
    .filter((t) => t.length > 0);
}

const isWeak = (tag: string) => tag.startsWith('W/');
const opaque = (tag: string) => (isWeak(tag) ? tag.slice(2) : tag);

/** If-Match: strong comparison; `*` matches any current representation. */
function ifMatchPasses(value: string, current: string | undefined): boolean {
  const tags = tokenList(value);
  if (tags.includes('*')) return true;
  if (current === undefined || isWeak(current)) return false;
  return tags.some((t) => !isWeak(t) && t === current);
}

/** If-None-Match: weak comparison. True when some tag matches. */
function noneMatchMatches(value: string, current: string | undefined): boolean {
  const tags = tokenList(value);
  if (tags.includes('*')) return true;
  return current !== undefined && tags.some((t) => opaque(t) === opaque(current));
}

function parseDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** If-Range: a strong entity tag that matches, or a date equal to Last-Modified. */
function ifRangePasses(value: string, v: Validators): boolean {
  const trimmed = value.trim();
  if (trimmed.startsWith('"') || trimmed.startsWith('W/')) {
    return v.etag !== undefined && !isWeak(trimmed) && !isWeak(v.etag) && trimmed === v.etag;
  }
  const date = parseDate(trimmed);
  return date !== undefined && v.lastModified !== undefined && date === parseDate(v.lastModified);
}

/**
 * §13.2.2's order: If-Match, else If-Unmodified-Since (412); If-None-Match,
 * else If-Modified-Since (304 for GET and HEAD, 412 otherwise). 200 when
 * the request may proceed.
 */
export function evaluatePreconditions(method: string, header: HeaderReader, v: Validators): 200 | 304 | 412 {
  const ifMatch = header('if-match');
  const ifUnmodifiedSince = parseDate(header('if-unmodified-since'));
  if (ifMatch !== undefined) {
    if (!ifMatchPasses(ifMatch, v.etag)) return 412;
  } else if (ifUnmodifiedSince !== undefined) {
    const modified = parseDate(v.lastModified) ?? Math.floor(v.mtimeMs / 1000) * 1000;
    if (modified > ifUnmodifiedSince) return 412;
  }

  const ifNoneMatch = header('if-none-match');
  if (method === 'GET' || method === 'HEAD') {
    const conditions = {
      'if-none-match': ifNoneMatch,
      // §13.1.3: ignored when If-None-Match is present.
      'if-modified-since': ifNoneMatch === undefined ? header('if-modified-since') : undefined,
      // Not the request's Cache-Control: `no-cache` asks caches to validate
      // with the origin, and this is the origin validating (fresh() and send
      // would answer 200, which fetch() with an If-None-Match always gets).
    };
    if (fresh(conditions, { etag: v.etag, 'last-modified': v.lastModified })) return 304;
  } else if (ifNoneMatch !== undefined && noneMatchMatches(ifNoneMatch, v.etag)) {
    return 412;
  }
  return 200;
}

/**
 * §14.1.3: a suffix range longer than the representation selects all of it.
 * range-parser drops such a range as unsatisfiable instead (`bytes=-500` of
 * a 300-byte file would get 416), so its length is cut to the size first.
 */
function clampSuffixes(range: string, size: number): string {
  if (size === 0) return range;
  return range.replace(/([=,]\s*)-(\d+)/g, (spec, before: string, length: string) => (Number(length) > size ? `${before}-${size}` : spec));
}

export interface ByteRange {
  start: number;
  /** Inclusive. */
  end: number;
}

export type RangeDecision = { kind: 'whole' } | { kind: 'unsatisfiable' } | { kind: 'ranges'; ranges: ByteRange[] };

/**
 * Which bytes a GET asks for (§14.2): the whole file when there is no Range,
 * when If-Range does not pass, or when the header is malformed, of another
 * unit or asks for more than `maxRanges` ranges (ignoring it is allowed);
 * overlapping ranges are merged.
 */
export function selectRanges(method: string, header: HeaderReader, v: Validators, size: number, maxRanges: number): RangeDecision {
  const range = header('range');
  if (method !== 'GET' || range === undefined) return { kind: 'whole' };
  const ifRange = header('if-range');
  if (ifRange !== undefined && !ifRangePasses(ifRange, v)) return { kind: 'whole' };
  const parsed = parseRange(size, clampSuffixes(range, size), { combine: true });
  if (parsed === -1) return { kind: 'unsatisfiable' };
  if (parsed === -2 || parsed.type !== 'bytes' || parsed.length > maxRanges) return { kind: 'whole' };
  return { kind: 'ranges', ranges: parsed.map(({ start, end }) => ({ start, end })) };
}

export interface Part extends ByteRange {
  /** Multipart framing before this part's bytes. */
  header?: Buffer;
}

/** multipart/byteranges framing (§14.6), as nginx frames it: each part's header, the closing delimiter, and the body's length. */
export function multipartFraming(ranges: ByteRange[], contentType: string | undefined, size: number, boundary: string): { parts: Part[]; trailer: Buffer; length: number } {
  const parts = ranges.map(({ start, end }, i) => ({
    start,
    end,
    header: Buffer.from(
      `${i === 0 ? '' : '\r\n'}--${boundary}\r\n` +
        (contentType ? `Content-Type: ${contentType}\r\n` : '') +
        `Content-Range: bytes ${start}-${end}/${size}\r\n\r\n`,
      'latin1',
    ),
  }));
  const trailer = Buffer.from(`\r\n--${boundary}--\r\n`, 'latin1');
  const length = parts.reduce((n, p) => n + p.header.length + (p.end - p.start + 1), trailer.length);
  return { parts, trailer, length };
}
