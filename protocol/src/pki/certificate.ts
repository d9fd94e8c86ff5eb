/**
 * Compact certificates (protobuf CertificateBody signed with ECDSA P-256/SHA-256), small enough
 * for a BLE handshake. Roles: a terminal key (signed by the acquirer CA), the authorization
 * server's PIN key and the settlement server's receipt key (signed by the card company root).
 */
import { sign, verify, type KeyObject } from 'node:crypto';
import { Certificate, CertificateBody } from '../gen/bluetill/v1/ble';
import { ProtocolError } from '../errors';
import { publicKeyFromRaw } from './keys';

export type CertificateRole = 'terminal' | 'pin-key' | 'receipt';

export type CertificateErrorCode = 'malformed' | 'bad_signature' | 'expired' | 'wrong_role';
export class CertificateError extends ProtocolError<CertificateErrorCode> {}

export function issueCertificate(body: CertificateBody, issuerKey: KeyObject): Uint8Array {
  const bodyBytes = CertificateBody.encode(body).finish();
  const signature = sign('sha256', bodyBytes, issuerKey);
  return Certificate.encode({ body: bodyBytes, signature }).finish();
}

/** Checks signature, role and expiry; returns the body. Throws CertificateError otherwise. */
export function verifyCertificate(
  certificate: Uint8Array,
  issuerPublicKey: KeyObject,
  expected: { role: CertificateRole; now: number },
): CertificateBody {
  let cert: Certificate;
  let body: CertificateBody;
  try {
    cert = Certificate.decode(certificate);
    body = CertificateBody.decode(cert.body);
  } catch (cause) {
    throw new CertificateError('malformed', 'certificate does not decode', { cause });
  }
  let ok = false;
  try {
    ok = verify('sha256', cert.body, issuerPublicKey, cert.signature);
  } catch {
    ok = false;
  }
  if (!ok) throw new CertificateError('bad_signature', 'certificate not signed by the expected issuer');
  if (body.role !== expected.role)
    throw new CertificateError('wrong_role', `certificate role is not ${expected.role}`);
  if (body.notAfterMs < expected.now) throw new CertificateError('expired', 'certificate expired');
  publicKeyFromRaw(body.publicKey);
  return body;
}

export function signWith(key: KeyObject, data: Uint8Array): Uint8Array {
  return new Uint8Array(sign('sha256', data, key));
}

export function verifyWith(publicRaw: Uint8Array, data: Uint8Array, signature: Uint8Array): boolean {
  try {
    return verify('sha256', data, publicKeyFromRaw(publicRaw), signature);
  } catch {
    return false;
  }
}
