/**
 * The storages of homes on disk, shared by every authenticator of a server (config users, LDAP, the
 * auth hook): one backend per home (a LocalStorage with the server's upload policy), wrapped in a
 * QuotaStorage for an account with a quota. Accounts that share a home share one quota usage figure;
 * every account on a home that some account has a quota on is tracked, so the figure stays right
 * whoever writes.
 */
import { resolve } from 'node:path';
import { LocalStorage, type PartialUploadPolicy } from '../storage/local.js';
import { QuotaStorage, QuotaUsage, type QuotaLimits } from '../storage/quota.js';
import type { Storage } from '../storage/storage.js';
import type { UploadJournal } from '../storage/upload-journal.js';

/** How uploads are written to local homes (see storage/local.ts). */
export interface UploadPolicy {
  /** New files are written under a hidden temp name and renamed on success (default true). */
  atomic?: boolean;
  /** What a failed upload of a new file leaves: `delete` (default) or `keep`. */
  partial?: PartialUploadPolicy;
}

export interface HomeStoragesOptions {
  uploads?: UploadPolicy;
  /** Records the temp files of uploads to local homes, for the clean-up after a crash (see `openUploadJournal`). */
  journal?: UploadJournal;
}

export class HomeStorages {
  private readonly homes = new Map<string | Storage, Storage>();
  private readonly usages = new Map<string | Storage, QuotaUsage>();
  private readonly storages = new Map<string, Storage>();
  private readonly tracked = new Set<string | Storage>();

  constructor(private readonly options: HomeStoragesOptions = {}) {}

  /** Quota usage is tracked on this home (call before any storage of it is made). */
  track(home: string | Storage): void {
    this.tracked.add(homeKey(home));
  }

  /** The home's backend, without a quota. */
  backend(home: string | Storage): Storage {
    if (typeof home !== 'string') return home;
    let s = this.homes.get(homeKey(home));
    if (!s) {
      const uploads = this.options.uploads ?? {};
      s = new LocalStorage(home, {
        ...(uploads.atomic !== undefined ? { atomicUploads: uploads.atomic } : {}),
        ...(uploads.partial !== undefined ? { partialUploads: uploads.partial } : {}),
        ...(this.options.journal ? { journal: this.options.journal } : {}),
      });
      this.homes.set(homeKey(home), s);
    }
    return s;
  }

  /**
   * The storage of one account (`key` names it: the same key gets the same storage). An account with a
   * quota has its home tracked from now on.
   */
  storage(key: string, home: string | Storage, quota: QuotaLimits | undefined): Storage {
    let s = this.storages.get(key);
    if (!s) {
      if (quota) this.track(home);
      const backend = this.backend(home);
      const hk = homeKey(home);
      if (this.tracked.has(hk)) {
        let usage = this.usages.get(hk);
        if (!usage) {
          usage = new QuotaUsage(backend);
          this.usages.set(hk, usage);
        }
        s = new QuotaStorage(backend, usage, quota ?? {});
      } else {
        s = backend;
      }
      this.storages.set(key, s);
    }
    return s;
  }

  /**
   * After a reload: takes over the quota usage figure of each home that `previous` tracked and this one
   * tracks too, so sessions logged in before and after the reload count against one figure.
   */
  adopt(previous: HomeStorages): void {
    for (const [key, usage] of previous.usages) if (this.tracked.has(key) && !this.usages.has(key)) this.usages.set(key, usage);
  }
}

/** Homes given as paths are the same home however they are spelled (`a/../b`, a trailing slash). */
function homeKey(home: string | Storage): string | Storage {
  return typeof home === 'string' ? resolve(home) : home;
}
