/**
 * Key material of the card company and the acquirer, made by the admin tool:
 *   root       signs the PIN-key and receipt-key certificates (phones trust it)
 *   acquirer   signs terminal certificates (phones trust it)
 *   pinKey     the authorization server's PIN key (P-256)
 *   receiptKey the settlement server's receipt signing key (P-256)
 *   lookupKey, dataKey, pinVerifierKey  symmetric keys for PAN hash, PAN encryption, PIN verification values
 */
import { randomBytes } from 'node:crypto';
import { generateP256, issueCertificate, privateKeyFromPem, privateKeyToPem, type CertificateRole } from '@bluetill/protocol';

export interface KeyMaterial {
  readonly version: 1;
  readonly root: { readonly privatePem: string };
  readonly acquirer: { readonly privatePem: string };
  readonly pinKey: { readonly id: string; readonly privatePem: string; readonly certificate: string };
  readonly receiptKey: { readonly id: string; readonly privatePem: string; readonly certificate: string };
  readonly lookupKey: string;
  readonly dataKey: string;
  readonly pinVerifierKey: string;
}

/** What a phone needs to trust a till and the backend: two public keys (raw P-256, base64). */
export interface TrustAnchors {
  readonly cardCompanyRoot: string;
  readonly acquirerCa: string;
}

const YEAR_MS = 365 * 24 * 3600_000;

export function createKeyMaterial(now = Date.now()): KeyMaterial {
  const root = generateP256();
  const acquirer = generateP256();
  const serverCert = (role: CertificateRole, id: string) => {
    const key = generateP256();
    const certificate = issueCertificate(
      { subjectId: id, role, merchantId: '', merchantName: '', publicKey: key.publicRaw, notAfterMs: now + 2 * YEAR_MS, issuer: 'bluetill root' },
      root.privateKey,
    );
    return { id, privatePem: privateKeyToPem(key.privateKey), certificate: Buffer.from(certificate).toString('base64') };
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
  };
}

export function trustAnchors(material: KeyMaterial): TrustAnchors {
  const b64 = (pem: string) => Buffer.from(privateKeyFromPem(pem).publicRaw).toString('base64');
  return { cardCompanyRoot: b64(material.root.privatePem), acquirerCa: b64(material.acquirer.privatePem) };
}

/** A terminal's identity for the BLE handshake: its key and a certificate from the acquirer CA. */
export interface TerminalIdentity {
  readonly terminalId: string;
  readonly merchantId: string;
  readonly merchantName: string;
  readonly privatePem: string;
  readonly certificate: string; // base64 Certificate
}

export function issueTerminalIdentity(material: KeyMaterial, t: { terminalId: string; merchantId: string; merchantName: string }, now = Date.now()): TerminalIdentity {
  const key = generateP256();
  const certificate = issueCertificate(
    { subjectId: t.terminalId, role: 'terminal', merchantId: t.merchantId, merchantName: t.merchantName, publicKey: key.publicRaw, notAfterMs: now + YEAR_MS, issuer: 'bluetill acquirer' },
    privateKeyFromPem(material.acquirer.privatePem).privateKey,
  );
  return { ...t, privatePem: privateKeyToPem(key.privateKey), certificate: Buffer.from(certificate).toString('base64') };
}
