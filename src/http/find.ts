// serveStatic's search for the file that answers a request: a path as it
// is, or the precompressed sibling the client prefers (which stands in for
// a missing original too), the first of several (index files, extensions),
// through the open-file cache. What does not exist is nothing; any other
// error opening it is the caller's.
import type { IncomingMessage } from 'node:http';
import Negotiator from 'negotiator';
import type { Found } from './answer.js';
import type { FileOpener, Lookup } from './file-cache.js';
import type { Encoding, ServeRequest, StaticServing } from './options.js';
import { openErrorStatus } from './respond.js';

const SUFFIX: Record<Encoding, string> = { br: '.br', gzip: '.gz' };

/** The last reason a lookup found nothing (ENOENT, ENAMETOOLONG…), for the 404's error. */
export interface Miss {
  cause?: unknown;
}

export class Finder {
  constructor(
    private readonly opener: FileOpener,
    private readonly serving: Pick<StaticServing, 'beneath' | 'precompressed'>,
  ) {}

  /** The precompressed encodings the client accepts, best first. */
  acceptedEncodings(req: ServeRequest): Encoding[] {
    const { precompressed } = this.serving;
    if (precompressed.length === 0 || req.headers['accept-encoding'] === undefined) return [];
    // Ties in the client's q-values go to the server's order: br, then gzip.
    const preference = [...precompressed, 'identity'];
    const negotiator = new Negotiator(req as IncomingMessage) as unknown as {
      encodings(available: string[], options: { preferred: string[] }): string[];
    };
    const accepted = negotiator.encodings(preference, { preferred: preference });
    const identity = accepted.indexOf('identity');
    return (identity === -1 ? accepted : accepted.slice(0, identity)) as Encoding[];
  }

  /** The cache's answer for `path` now, without a promise, when it holds a file there. */
  fileNow(path: string): Found | undefined {
    const hit = this.opener.lookupNow(path, this.serving.beneath);
    return hit?.kind === 'file' ? { file: hit.file, path, name: path } : undefined;
  }

  /**
   * What `path` is: a file (or the compressed sibling the client prefers),
   * a directory, or nothing; a sibling stands in for a missing original.
   */
  async lookFor(path: string, encodings: Encoding[], miss: Miss): Promise<Found | 'directory' | undefined> {
    const found = await this.lookup(path, miss);
    if (found?.kind === 'directory') return 'directory';
    if (found?.kind === 'file') {
      const compressed = encodings.length > 0 ? await this.sibling(path, encodings) : undefined;
      if (!compressed) return { file: found.file, path, name: path };
      found.file.release();
      return compressed;
    }
    return found === undefined && encodings.length > 0 ? this.sibling(path, encodings) : undefined;
  }

  /** The first of `paths` that is a file, skipping directories. */
  async firstFile(paths: string[], encodings: Encoding[], miss: Miss): Promise<Found | undefined> {
    for (const path of paths) {
      const found = await this.lookFor(path, encodings, miss);
      if (found && found !== 'directory') return found;
    }
    return undefined;
  }

  async isDirectory(path: string, miss: Miss): Promise<boolean> {
    const found = await this.lookup(path, miss);
    if (found?.kind === 'file') found.file.release();
    return found?.kind === 'directory';
  }

  /** What `path` is; a path that does not exist is nothing (noted in `miss`), any other error opening it is the caller's. */
  private lookup(path: string, miss: Miss): Promise<Lookup | undefined> {
    return this.opener.lookup(path, this.serving.beneath).catch((error) => {
      if (openErrorStatus(error) !== 404) throw error;
      miss.cause = error;
      return undefined;
    });
  }

  /** The first compressed sibling of `path` among `encodings` that is a file. */
  private async sibling(path: string, encodings: Encoding[]): Promise<Found | undefined> {
    for (const encoding of encodings) {
      const found = await this.opener.lookup(path + SUFFIX[encoding], this.serving.beneath).catch(() => undefined);
      if (found?.kind === 'file') return { file: found.file, path: path + SUFFIX[encoding], name: path, encoding };
    }
    return undefined;
  }
}
