/**
 * Issuing a card: the issuer's side produces the personalization data for a new card (a fresh
 * ICC key, its certificate over the card's static data, the AC master key derived from the issuer
 * master key, the PIN for offline verification, optionally a fingerprint template for
 * match-on-card and a knowledge secret, which only the card keeps) and the card's personalization
 * key. A card writer (the phone agent's `card write`, or the simulator) writes it to the card.
 */
import { writeFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import { encodeKnowledgeSecret, encodePersonalizationData, prepareDemoCard, type CardPersonalization } from '@bluetill/protocol';
import { loadIssuer, type KeyMaterial } from './key-material';

export interface CardIssue {
  readonly pan: string;
  readonly panSequence?: number;
  readonly expiry: string;
  readonly cardholderName: string;
  readonly pin: string;
  /** Fingerprint template (64 signed components) for match-on-card (claim 16); secret, never logged. */
  readonly biometricTemplate?: Int8Array;
  /** Knowledge secret the card checks (claim 17); secret, never logged. */
  readonly knowledgeSecret?: string;
}

/** The file a card writer takes: secret material (ICC private key, keys, PIN), written 0600. */
export interface PersonalizationFile {
  readonly version: 1;
  readonly cardId: string;
  /** encodePersonalizationData(), base64. */
  readonly personalization: string;
  /** The card's personalization key (authenticates the STORE DATA chain), base64. */
  readonly personalizationKey: string;
}

export function issueCard(material: KeyMaterial, card: CardIssue): { personalization: CardPersonalization; personalizationKey: Uint8Array } {
  return prepareDemoCard(loadIssuer(material.emv), {
    pan: card.pan, psn: card.panSequence ?? 1, expiry: card.expiry, cardholderName: card.cardholderName, pin: card.pin, acAlgorithm: 'aes',
    ...(card.biometricTemplate !== undefined ? { biometricTemplate: card.biometricTemplate } : {}),
    ...(card.knowledgeSecret !== undefined ? { knowledgeSecret: encodeKnowledgeSecret(card.knowledgeSecret) } : {}),
  });
}

/**
 * A merchant IC card (claims 2, 7, 8): issued like a payment card (its own ICC key and
 * certificate under the CA, DDA-capable), carrying the merchant establishment id in 9F16 inside
 * the record the ICC certificate signs. It takes no PIN from anyone: its offline PIN is random.
 */
export function issueMerchantCard(
  material: KeyMaterial,
  card: { pan: string; panSequence?: number; expiry: string; name: string; merchantId: string },
): { personalization: CardPersonalization; personalizationKey: Uint8Array } {
  return prepareDemoCard(loadIssuer(material.emv), {
    pan: card.pan, psn: card.panSequence ?? 1, expiry: card.expiry, cardholderName: card.name, merchantId: card.merchantId,
    pin: String(randomInt(0, 1e8)).padStart(8, '0'), acAlgorithm: 'aes',
  });
}

export function writePersonalizationFile(path: string, cardId: string, issued: ReturnType<typeof issueCard>): void {
  const file: PersonalizationFile = {
    version: 1,
    cardId,
    personalization: Buffer.from(encodePersonalizationData(issued.personalization)).toString('base64'),
    personalizationKey: Buffer.from(issued.personalizationKey).toString('base64'),
  };
  writeFileSync(path, JSON.stringify(file, null, 2), { mode: 0o600 });
}
