import { LRUCache } from 'lru-cache';

/**
 * The bounded cache behind the EMV caches (issuer keys, cards' records, ICC master keys): least
 * recently used entries go first; an entry is served only while `usable` says it still belongs to
 * the key material it was made under; lookups are counted.
 */
export abstract class CountedCache<V extends object> {
  private readonly entries: LRUCache<string, V>;
  private readonly counts = { hits: 0, misses: 0 };

  constructor(readonly maxEntries: number) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1)
      throw new RangeError('maxEntries must be a positive integer');
    this.entries = new LRUCache({ max: maxEntries });
  }

  /** The entry under `key` if there and still usable (a hit), else undefined (a miss). */
  protected lookup(key: string, usable: (entry: V) => boolean): V | undefined {
    const entry = this.entries.get(key);
    if (entry !== undefined && usable(entry)) {
      this.counts.hits++;
      return entry;
    }
    this.counts.misses++;
    return undefined;
  }

  protected keep(key: string, entry: V): void {
    this.entries.set(key, entry);
  }

  get size(): number {
    return this.entries.size;
  }

  /** Lookups answered from the cache, and lookups that were not (the work was then done anew). */
  get stats(): { readonly hits: number; readonly misses: number } {
    return { ...this.counts };
  }
}
