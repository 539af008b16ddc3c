// Content-Disposition for downloads (RFC 6266), by the `content-disposition`
// package: it quotes what must be quoted, and gives a name outside ASCII as
// `filename*=UTF-8''…` beside an ASCII fallback, where a hand-written header
// would make setHeader() throw ERR_INVALID_CHAR.
import { basename } from 'node:path';
import { create } from 'content-disposition';

/** `attachment; filename=…` for a file name, or the last segment of a path. */
export function attachment(name: string): string {
  return create(basename(name));
}
