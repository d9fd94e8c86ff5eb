import { LRUCache } from 'lru-cache';
import { deriveCardAcMasterKey } from './card-cryptogram';
import type { AcAlgorithm } from './cryptogram';

/**
 * ICC master keys for application cryptograms, derived from the issuer master key, per card
 * (algorithm, PAN, PSN), as an issuer host keeps them warm (issue 5): a card pays many times, and
 * each derivation is one or two block-cipher set-ups, most of what an AES or TDES call costs in
 * Node. The session key (per ATC) and the MAC are computed on every use.
 *
 * - An entry is used only with the very issuer master key it was derived from (the array object the
 *   key store holds): a key store with other keys derives its own.
 * - These are secret keys, held in the same process memory as the issuer master key they come from
 *   (whoever can read one can read the other); bounded, least recently used first out.
 *
 * @example
 *   const keys = new CardKeyCache();
 *   const iccMasterKey = keys.derive(issuerMasterKey, pan, panSequence, 'aes');
 */
export class CardKeyCache {
  private readonly entries: LRUCache<string, { readonly imk: Uint8Array; readonly key: Uint8Array }>;
  private counts = { hits: 0, misses: 0 };

  constructor(readonly maxEntries = 4096) {
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new RangeError('maxEntries must be a positive integer');
    this.entries = new LRUCache({ max: maxEntries });
  }

  /** deriveCardAcMasterKey, from the cache when this card's key was derived from `imk` before; throws as it does. */
  derive(imk: Uint8Array, pan: string, psn: number, algorithm: AcAlgorithm): Uint8Array {
    const id = `${algorithm}:${pan}:${psn}`;
    const entry = this.entries.get(id);
    if (entry && entry.imk === imk) {
      this.counts.hits++;
      return entry.key;
    }
    const key = deriveCardAcMasterKey(imk, pan, psn, algorithm);
    this.entries.set(id, { imk, key });
    this.counts.misses++;
    return key;
  }

  get size(): number {
    return this.entries.size;
  }

  /** Keys given from the cache, and derivations made. */
  get stats(): { readonly hits: number; readonly misses: number } {
    return { ...this.counts };
  }
}
