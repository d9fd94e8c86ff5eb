import { deriveCardAcMasterKey } from './card-cryptogram';
import type { AcAlgorithm } from './cryptogram';
import { CountedCache } from './counted-cache';

/**
 * ICC master keys for application cryptograms, derived from the issuer master key, per card
 * (algorithm, PAN, PSN), as an issuer host keeps them warm: a card pays many times, and
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
export class CardKeyCache extends CountedCache<{ readonly imk: Uint8Array; readonly key: Uint8Array }> {
  constructor(maxEntries = 4096) {
    super(maxEntries);
  }

  /** deriveCardAcMasterKey, from the cache when this card's key was derived from `imk` before; throws as it does. */
  derive(imk: Uint8Array, pan: string, psn: number, algorithm: AcAlgorithm): Uint8Array {
    const id = `${algorithm}:${pan}:${psn}`;
    const entry = this.lookup(id, (e) => e.imk === imk);
    if (entry) return entry.key;
    const key = deriveCardAcMasterKey(imk, pan, psn, algorithm);
    this.keep(id, { imk, key });
    return key;
  }
}
