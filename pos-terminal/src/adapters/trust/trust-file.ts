/**
 * The trust material offline mode needs, from trust.json as the card company's seed writes it
 * (beside the terminal file): the card company root (raw P-256 public key, base64), which
 * certifies the key the offline parameters are signed with, and the scheme's EMV CA keys
 * (`emvCaKeys`: [{ index, modulus, exponent }], base64), which the till checks cards' offline
 * approvals under. Every problem names the file and the field.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { caKeysFromList, publicKeyFromRaw, type RsaPublicKey } from '@bluetill/protocol';

export interface OfflineTrust {
  readonly cardCompanyRoot: KeyObject;
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
}

export function readOfflineTrust(path: string): OfflineTrust {
  let parsed: { cardCompanyRoot?: unknown; emvCaKeys?: unknown };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as typeof parsed;
  } catch (cause) {
    throw new Error(`offline mode: cannot read the trust file ${path}`, { cause });
  }
  let cardCompanyRoot: KeyObject;
  try {
    if (typeof parsed.cardCompanyRoot !== 'string') throw new Error('missing');
    cardCompanyRoot = publicKeyFromRaw(Buffer.from(parsed.cardCompanyRoot, 'base64'));
  } catch (cause) {
    throw new Error(`offline mode: the trust file ${path} has no card company root (cardCompanyRoot)`, {
      cause,
    });
  }
  const list = parsed.emvCaKeys;
  if (!Array.isArray(list) || list.length === 0)
    throw new Error(`offline mode: the trust file ${path} has no EMV CA keys (emvCaKeys)`);
  let caKeys: ReadonlyMap<number, RsaPublicKey>;
  try {
    caKeys = caKeysFromList(list);
  } catch (cause) {
    throw new Error(`offline mode: the trust file ${path}: ${(cause as Error).message}`, { cause });
  }
  return { cardCompanyRoot, caKeys };
}
