/**
 * Key material of the card company and the acquirer, made by the admin tool:
 *   root       signs the PIN-key and receipt-key certificates (phones trust it)
 *   acquirer   signs terminal certificates (phones trust it)
 *   pinKey     the authorization server's PIN key (P-256)
 *   receiptKey the settlement server's receipt signing key (P-256)
 *   lookupKey, dataKey, pinVerifierKey  symmetric keys for PAN hash, PAN encryption, PIN verification values
 *   emv        the scheme CA's and the issuer's RSA keys (SCHEME_KEY_BITS unless asked for the demo's sizes)
 */
import { createPrivateKey, randomBytes } from 'node:crypto';
import {
  createDemoIssuer,
  generateP256,
  issueCertificate,
  privateKeyFromPem,
  privateKeyToPem,
  type CertificateRole,
} from '@bluetill/protocol';

import { loadIssuer, serializeIssuer, type KeyMaterial } from '../adapters/key-material-format';

export {
  loadIssuer,
  serializeIssuer,
  type KeyMaterial,
  type SerializedIssuer,
} from '../adapters/key-material-format';

/**
 * What a phone needs to trust a till and the backend: two public keys (raw P-256, base64); and,
 * for offline data authentication of cards on the phone (claim 10), the scheme's EMV CA public
 * keys (RSA modulus and exponent, base64) by index (tag 8F).
 */
export interface TrustAnchors {
  readonly cardCompanyRoot: string;
  readonly acquirerCa: string;
  readonly emvCaKeys: readonly {
    readonly index: number;
    readonly modulus: string;
    readonly exponent: string;
  }[];
  /**
   * The backend CA certificate (PEM): the phone checks the shopper-facing listener's TLS server
   * certificate against it when it talks to the backend directly (claims 1, 2). Written by the seed.
   */
  readonly backendTlsCa?: string;
}

const YEAR_MS = 365 * 24 * 3600_000;

/** RSA modulus lengths of the EMV keys: the scheme CA's, the issuer's, and each card's (ICC). */
export interface EmvKeyBits {
  readonly ca: number;
  readonly issuer: number;
  readonly icc: number;
}

/**
 * Production sizes, the default of `keys create`: a 1984-bit CA and issuer key (the largest
 * EMV CA modulus whose certificate still fits one short READ RECORD response: a 248-byte
 * certificate in its record template is 254 bytes of the 256) and 1024-bit card keys.
 */
export const SCHEME_KEY_BITS: EmvKeyBits = { ca: 1984, issuer: 1984, icc: 1024 };

/** The demo's and the tests' sizes (fast to generate and to check); never for real cards: `keys create --demo-key-sizes`. */
export const DEMO_KEY_BITS: EmvKeyBits = { ca: 1024, issuer: 1024, icc: 768 };

export class KeySizeError extends Error {
  readonly code = 'emv_key_size_invalid';
  constructor(message: string) {
    super(message);
    this.name = 'KeySizeError';
  }
}

/**
 * EMV certificate format limits (EMV Book 2, 5.1 and 6.1): every modulus is whole bytes; the
 * issuer's fits under the CA's (N_I <= N_CA: its certificate is recovered with the CA key) and
 * each card's under the issuer's (N_IC <= N_I); a CA modulus over 1984 bits makes a certificate
 * too long for one short READ RECORD (the card layout puts each certificate in a record of its
 * own); the ICC key signs DDA data and needs at least 512 bits.
 */
export function checkEmvKeyBits(b: EmvKeyBits): void {
  for (const [name, bits] of Object.entries(b)) {
    if (!Number.isInteger(bits) || bits % 8 !== 0)
      throw new KeySizeError(`${name} key: ${bits} bits is not a whole number of bytes`);
  }
  if (b.ca > 1984)
    throw new KeySizeError(
      `CA key: ${b.ca} bits; at most 1984 (a certificate must fit one short READ RECORD response)`,
    );
  if (b.issuer > b.ca)
    throw new KeySizeError(
      `issuer key (${b.issuer} bits) longer than the CA key (${b.ca}): N_I must be <= N_CA`,
    );
  if (b.icc > b.issuer)
    throw new KeySizeError(
      `ICC key (${b.icc} bits) longer than the issuer key (${b.issuer}): N_IC must be <= N_I`,
    );
  if (b.icc < 512) throw new KeySizeError(`ICC key: ${b.icc} bits; at least 512`);
}

/** The EMV key sizes of existing material (from the keys themselves). */
export function emvKeyBitsOf(material: KeyMaterial): EmvKeyBits {
  const bits = (pem: string) => createPrivateKey(pem).asymmetricKeyDetails?.modulusLength ?? 0;
  return {
    ca: bits(material.emv.caPrivatePem),
    issuer: bits(material.emv.issuerPrivatePem),
    icc: material.emv.iccBits,
  };
}

/** Fresh key material; EMV keys of `emvKeyBits` (default SCHEME_KEY_BITS, checked by checkEmvKeyBits). */
export function createKeyMaterial(now = Date.now(), o: { emvKeyBits?: EmvKeyBits } = {}): KeyMaterial {
  const emvKeyBits = o.emvKeyBits ?? SCHEME_KEY_BITS;
  checkEmvKeyBits(emvKeyBits);
  const root = generateP256();
  const acquirer = generateP256();
  const serverCert = (role: CertificateRole, id: string) => {
    const key = generateP256();
    const certificate = issueCertificate(
      {
        subjectId: id,
        role,
        merchantId: '',
        merchantName: '',
        publicKey: key.publicRaw,
        notAfterMs: now + 2 * YEAR_MS,
        issuer: 'bluetill root',
      },
      root.privateKey,
    );
    return {
      id,
      privatePem: privateKeyToPem(key.privateKey),
      certificate: Buffer.from(certificate).toString('base64'),
    };
  };
  return {
    version: 1,
    root: { privatePem: privateKeyToPem(root.privateKey) },
    acquirer: { privatePem: privateKeyToPem(acquirer.privateKey) },
    pinKey: serverCert('pin-key', 'pin-key-1'),
    receiptKey: serverCert('receipt', 'receipt-key-1'),
    lookupKey: randomBytes(32).toString('base64'),
    dataKey: randomBytes(32).toString('base64'),
    pinVerifierKey: randomBytes(32).toString('base64'),
    emv: serializeIssuer(createDemoIssuer({ identifier: '679999', caIndex: 0x99, bits: emvKeyBits })),
  };
}

export function trustAnchors(material: KeyMaterial): TrustAnchors {
  const b64 = (pem: string) => Buffer.from(privateKeyFromPem(pem).publicRaw).toString('base64');
  const ca = loadIssuer(material.emv).ca;
  const raw = (b: Uint8Array) => Buffer.from(b).toString('base64');
  return {
    cardCompanyRoot: b64(material.root.privatePem),
    acquirerCa: b64(material.acquirer.privatePem),
    emvCaKeys: [
      { index: ca.index, modulus: raw(ca.publicKey.modulus), exponent: raw(ca.publicKey.exponent) },
    ],
  };
}

/** A terminal's identity for the BLE handshake: its key and a certificate from the acquirer CA. */
export interface TerminalIdentity {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly merchantName: string;
  readonly privatePem: string;
  readonly certificate: string; // base64 Certificate
}

export function issueTerminalIdentity(
  material: KeyMaterial,
  t: { terminalId: string; merchantId: string; merchantName: string },
  now = Date.now(),
): TerminalIdentity {
  const key = generateP256();
  const certificate = issueCertificate(
    {
      subjectId: t.terminalId,
      role: 'terminal',
      merchantId: t.merchantId,
      merchantName: t.merchantName,
      publicKey: key.publicRaw,
      notAfterMs: now + YEAR_MS,
      issuer: 'bluetill acquirer',
    },
    privateKeyFromPem(material.acquirer.privatePem).privateKey,
  );
  return {
    ...t,
    privatePem: privateKeyToPem(key.privateKey),
    certificate: Buffer.from(certificate).toString('base64'),
  };
}
