/**
 * A user's quota usage kept in the database, so every node counts against one figure. The first node to
 * need it walks the home and records what it found; after that each upload's commit (and each delete or
 * replace) adds its change in the database, and the local figure follows the database's: it is read again
 * before each operation that changes the usage (an upload, a delete, a rename), one indexed query. Reservations of uploads in flight stay local, so two
 * nodes uploading for one user at once can overshoot by at most the uploads already in flight. When the
 * database is unreachable the local figure goes on alone (and the failure is logged).
 */
import { QuotaUsage } from '../storage/quota.js';
import type { Storage } from '../storage/storage.js';
import type { UserStore } from './store.js';

export class SharedQuotaUsage extends QuotaUsage {
  private first: Promise<void> | undefined;
  /** The first load just read the figure: the operation that asked needs no second read. */
  private justLoaded = false;

  constructor(
    backend: Storage,
    private readonly store: UserStore,
    private readonly name: string,
    private readonly onError: (err: unknown) => void,
  ) {
    super(backend);
  }

  override async load(): Promise<void> {
    this.first ??= this.loadFirst().catch((err: unknown) => {
      this.first = undefined;
      throw err;
    });
    await this.first;
    if (this.justLoaded) {
      this.justLoaded = false;
      return;
    }
    try {
      const figure = await this.store.usage(this.name);
      if (figure) this.follow(figure);
    } catch (err) {
      this.onError(err);
    }
  }

  private async loadFirst(): Promise<void> {
    const known = await this.store.usage(this.name).catch((err: unknown) => {
      this.onError(err);
      return undefined;
    });
    if (known) {
      this.follow(known);
      this.justLoaded = true;
      return;
    }
    await super.load();
    const { bytes, files } = this.current;
    const kept = await this.store.initUsage(this.name, bytes, files).catch((err: unknown) => {
      this.onError(err);
      return undefined;
    });
    if (kept) this.follow(kept);
    this.justLoaded = true;
  }

  override apply(bytes: number, files: number): void {
    super.apply(bytes, files);
    if (bytes === 0 && files === 0) return;
    this.store.applyUsage(this.name, bytes, files).then(
      (figure) => figure && this.follow(figure),
      (err: unknown) => this.onError(err),
    );
  }

  /** Makes the local figure the database's. */
  private follow(figure: { bytes: number; files: number }): void {
    const { bytes, files } = this.current;
    super.apply(figure.bytes - bytes, figure.files - files);
  }
}
