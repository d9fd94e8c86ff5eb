/**
 * The stored form of the key material (keys.json, sealed at rest by keys-file.ts) and how its EMV
 * issuer is loaded back: what the key store adapter reads. The admin tool makes the material
 * (admin/key-material.ts) and writes it in this form.
 */
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { rsaPublicKeyOf, type DemoIssuer } from '@bluetill/protocol';

export interface KeyMaterial {
  readonly version: 1;
  readonly root: { readonly privatePem: string };
  readonly acquirer: { readonly privatePem: string };
  readonly pinKey: { readonly id: string; readonly privatePem: string; readonly certificate: string };
  readonly receiptKey: { readonly id: string; readonly privatePem: string; readonly certificate: string };
  readonly lookupKey: string;
  readonly dataKey: string;
  readonly pinVerifierKey: string;
  /** The EMV side: scheme CA (RSA), the issuer's RSA key and certificate, issuer master keys. */
  readonly emv: SerializedIssuer;
}

export interface SerializedIssuer {
  readonly caIndex: number;
  readonly caPrivatePem: string;
  readonly issuerPrivatePem: string;
  readonly issuerIdentifier: string;
  readonly issuerCertificate: {
    readonly certificate: string;
    readonly remainder: string;
    readonly exponent: string;
  };
  readonly acMasterKeys: { readonly tdes: string; readonly aes: string };
  readonly personalizationMasterKey: string;
  readonly iccBits: number;
}

const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');
const unb64 = (s: string) => new Uint8Array(Buffer.from(s, 'base64'));

export function serializeIssuer(i: DemoIssuer): SerializedIssuer {
  const pem = (k: DemoIssuer['ca']['privateKey']) => k.export({ format: 'pem', type: 'pkcs8' }).toString();
  return {
    caIndex: i.ca.index,
    caPrivatePem: pem(i.ca.privateKey),
    issuerPrivatePem: pem(i.issuer.privateKey),
    issuerIdentifier: i.issuer.identifier,
    issuerCertificate: {
      certificate: b64(i.issuer.certificate.certificate),
      remainder: b64(i.issuer.certificate.remainder),
      exponent: b64(i.issuer.certificate.exponent),
    },
    acMasterKeys: { tdes: b64(i.acMasterKeys.tdes), aes: b64(i.acMasterKeys.aes) },
    personalizationMasterKey: b64(i.personalizationMasterKey),
    iccBits: i.iccBits,
  };
}

export function loadIssuer(s: SerializedIssuer): DemoIssuer {
  const ca = createPrivateKey(s.caPrivatePem);
  const issuer = createPrivateKey(s.issuerPrivatePem);
  return {
    ca: { index: s.caIndex, privateKey: ca, publicKey: rsaPublicKeyOf(createPublicKey(ca)) },
    issuer: {
      privateKey: issuer,
      publicKey: rsaPublicKeyOf(createPublicKey(issuer)),
      identifier: s.issuerIdentifier,
      certificate: {
        certificate: unb64(s.issuerCertificate.certificate),
        remainder: unb64(s.issuerCertificate.remainder),
        exponent: unb64(s.issuerCertificate.exponent),
      },
    },
    acMasterKeys: { tdes: unb64(s.acMasterKeys.tdes), aes: unb64(s.acMasterKeys.aes) },
    personalizationMasterKey: unb64(s.personalizationMasterKey),
    iccBits: s.iccBits,
  };
}
