/**
 * Virtual paths as object keys: a file is `PREFIX/a/b`, a directory the prefix `PREFIX/a/b/` (with an
 * optional marker object of that name, written by MKD so empty directories exist).
 */
import type { VirtualPath } from '../../base/virtual-path.js';

/** The name below the root that holds the marks of this server's multipart uploads (hidden, reserved). */
export const UPLOADS_DIR = '.ftpsd-uploads';

export class Keys {
  /**
   * `prefix`: '' or ending in '/'. `marksPrefix`: where the marks of uploads go, the served root's prefix
   * (a home below the root keeps its marks there too, where the start-up clean-up looks, out of the
   * reach of a user whose home is above it).
   */
  constructor(
    readonly prefix: string,
    readonly marksPrefix: string = prefix,
  ) {}

  file(path: VirtualPath): string {
    return this.prefix + path.join('/');
  }

  /** The directory's prefix and marker key: ends in '/' ('' or the root prefix for the root). */
  dir(path: VirtualPath): string {
    return path.length === 0 ? this.prefix : `${this.prefix}${path.join('/')}/`;
  }

  /** The key of the mark of a multipart upload. */
  uploadMark(uploadId: string): string {
    return `${this.marksPrefix}${UPLOADS_DIR}/${encodeURIComponent(uploadId)}`;
  }

  /** Whether a path touches the reserved uploads name (it is not the user's). */
  reserved(path: VirtualPath): boolean {
    return path[0] === UPLOADS_DIR;
  }
}
