import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { caKeysFromList, publicKeyFromRaw, type RsaPublicKey } from '@bluetill/protocol';
import { CliError } from './cli-error';

export interface Trust {
  readonly acquirerCa: KeyObject;
  readonly cardCompanyRoot: KeyObject;
  /** The scheme's EMV CA keys by index, for offline data authentication on the phone (`--oda`); empty when the file has none. */
  readonly emvCaKeys?: ReadonlyMap<number, RsaPublicKey>;
  /** The backend CA certificate (PEM), for talking to the backend directly (pay --code, --merchant-card); absent in older trust files. */
  readonly backendTlsCa?: Buffer;
}

/**
 * trust.json as the backend's seed writes it: the acquirer CA (signs till certificates) and the
 * card company root (certifies the receipt key), raw P-256 public keys in base64; optionally
 * `emvCaKeys` ([{ index, modulus, exponent }], base64), the scheme CA keys for ODA on the phone, and the
 * backend CA certificate (backendTlsCa, PEM) the backend's TLS server certificate chains to.
 */
export function readTrustFile(path: string): Trust {
  let parsed: {
    acquirerCa?: unknown;
    cardCompanyRoot?: unknown;
    emvCaKeys?: unknown;
    backendTlsCa?: unknown;
  };
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as typeof parsed;
  } catch (cause) {
    throw CliError.usage('trust_file', `cannot read the trust file ${path}`, { cause });
  }
  const key = (field: 'acquirerCa' | 'cardCompanyRoot'): KeyObject => {
    const v = parsed[field];
    if (typeof v !== 'string') throw CliError.usage('trust_file', `the trust file ${path} has no ${field}`);
    try {
      return publicKeyFromRaw(Buffer.from(v, 'base64'));
    } catch (cause) {
      throw CliError.usage('trust_file', `the trust file's ${field} is not a P-256 public key`, { cause });
    }
  };
  let emvCaKeys: ReadonlyMap<number, RsaPublicKey>;
  try {
    emvCaKeys = caKeysFromList(parsed.emvCaKeys ?? []);
  } catch (cause) {
    throw CliError.usage('trust_file', `the trust file's ${(cause as Error).message}`, { cause });
  }
  const ca = parsed.backendTlsCa;
  if (ca !== undefined && (typeof ca !== 'string' || !ca.includes('-----BEGIN CERTIFICATE-----')))
    throw CliError.usage('trust_file', `the trust file's backendTlsCa is not a PEM certificate`);
  return {
    acquirerCa: key('acquirerCa'),
    cardCompanyRoot: key('cardCompanyRoot'),
    emvCaKeys,
    ...(typeof ca === 'string' ? { backendTlsCa: Buffer.from(ca) } : {}),
  };
}
