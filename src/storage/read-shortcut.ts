/**
 * Which `openRead` (storage.ts: RETR's optional shortcut, `stat` then `read` in one step) a caller may
 * use. A backend's shortcut is only good while its `stat` and `read` are the ones it was written with: a
 * subclass, or an `Object.create()` wrapper, that overrides `read` (to audit, refuse or transform) but
 * inherits `openRead` would be bypassed by it. So the shortcut counts only when it is defined at least as
 * close to the object as `stat` and `read` are; otherwise callers use `stat` then `read`.
 */
import type { Storage } from './storage.js';

/** How far up `obj`'s prototype chain `name` is defined (0: on the object itself). */
function definedAt(obj: object, name: string): number {
  let depth = 0;
  for (let o: object | null = obj; o !== null; o = Object.getPrototypeOf(o) as object | null, depth++) {
    if (Object.prototype.hasOwnProperty.call(o, name)) return depth;
  }
  return Infinity;
}

/** The storage's `openRead` if a caller may use it instead of `stat` then `read` (see above), bound to it. */
export function readShortcut(storage: Storage): Storage['openRead'] {
  const openRead = storage.openRead;
  if (!openRead) return undefined;
  const at = definedAt(storage, 'openRead');
  if (at > definedAt(storage, 'read') || at > definedAt(storage, 'stat')) return undefined;
  return (path, options) => openRead.call(storage, path, options);
}
