/**
 * The trust material offline mode needs, from trust.json as the card company's seed writes it
 * (beside the terminal file): the card company root (raw P-256 public key, base64), which
 * certifies the key the offline parameters are signed with, and the scheme's EMV CA keys
 * (`emvCaKeys`: [{ index, modulus, exponent }], base64), which the till checks cards' offline
 * approvals under. Every problem names the file and the field.
 */
import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { publicKeyFromRaw, type RsaPublicKey } from '@bluetill/protocol';

export interface OfflineTrust {
  readonly cardCompanyRoot: KeyObject;
  readonly caKeys: ReadonlyMap<number, RsaPublicKey>;
}

const B64 = /^[A-Za-z0-9+/]+={0,2}$/;

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
  const caKeys = new Map<number, RsaPublicKey>();
  for (const k of list as { index?: unknown; modulus?: unknown; exponent?: unknown }[]) {
    if (
      typeof k?.index !== 'number' ||
      !Number.isInteger(k.index) ||
      k.index < 0 ||
      k.index > 255 ||
      typeof k.modulus !== 'string' ||
      typeof k.exponent !== 'string' ||
      !B64.test(k.modulus) ||
      !B64.test(k.exponent)
    )
      throw new Error(
        `offline mode: the trust file ${path} holds an EMV CA key that is not { index 0-255, modulus, exponent } in base64`,
      );
    caKeys.set(k.index, {
      modulus: new Uint8Array(Buffer.from(k.modulus, 'base64')),
      exponent: new Uint8Array(Buffer.from(k.exponent, 'base64')),
    });
  }
  return { cardCompanyRoot, caKeys };
}
