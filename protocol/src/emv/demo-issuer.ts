import { generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { concatBytes } from '../bytes';
import { cardStaticData, certificateExpiry } from './card-layout';
import { deriveCardAcMasterKey } from './card-cryptogram';
import { type AcAlgorithm } from './cryptogram';
import { createIccCertificate, createIssuerCertificate, type PublicKeyCertificate } from './oda';
import { aesCmac } from './mac';
import { type CardPersonalization, type OfflineLimits } from './personalization';
import { rsaPublicKeyOf, type RsaPublicKey } from './rsa';

/**
 * A simulated card scheme + issuer: CA RSA key, issuer RSA key and its certificate, issuer
 * master keys for AC (TDES and AES) and a personalization master key. For tests and demos only.
 * Default key sizes are small for speed (CA 1024, issuer 1024, ICC 768 bits, exponent 3); real
 * schemes use 1984/2048-bit CA keys: pass `bits` to choose.
 */
export type DemoIssuer = {
  ca: { index: number; privateKey: KeyObject; publicKey: RsaPublicKey };
  issuer: {
    privateKey: KeyObject;
    publicKey: RsaPublicKey;
    certificate: PublicKeyCertificate;
    identifier: string;
  };
  /** Issuer master keys for application cryptograms. */
  acMasterKeys: Record<AcAlgorithm, Uint8Array>;
  /** Master key from which each card's personalization key is derived. */
  personalizationMasterKey: Uint8Array;
  iccBits: number;
};

const rsa = (bits: number): { privateKey: KeyObject; publicKey: KeyObject } =>
  generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 3 });

/** Creates a demo CA + issuer (`identifier` = the leftmost PAN digits the issuer owns). */
export function createDemoIssuer(
  options: {
    identifier?: string;
    caIndex?: number;
    bits?: { ca: number; issuer: number; icc: number };
    expiry?: string;
  } = {},
): DemoIssuer {
  const bits = options.bits ?? { ca: 1024, issuer: 1024, icc: 768 };
  const identifier = options.identifier ?? '999001';
  const ca = rsa(bits.ca);
  const issuer = rsa(bits.issuer);
  const issuerPublic = rsaPublicKeyOf(issuer.publicKey);
  const certificate = createIssuerCertificate({
    caPrivateKey: ca.privateKey,
    issuerPublicKey: issuerPublic,
    issuerIdentifier: identifier,
    expiry: certificateExpiry(options.expiry ?? '3512'),
    serial: randomBytes(3),
  });
  return {
    ca: {
      index: options.caIndex ?? 0x99,
      privateKey: ca.privateKey,
      publicKey: rsaPublicKeyOf(ca.publicKey),
    },
    issuer: { privateKey: issuer.privateKey, publicKey: issuerPublic, certificate, identifier },
    acMasterKeys: { tdes: new Uint8Array(randomBytes(16)), aes: new Uint8Array(randomBytes(16)) },
    personalizationMasterKey: new Uint8Array(randomBytes(16)),
    iccBits: bits.icc,
  };
}

/** A card's personalization key: AES-CMAC(personalization master key, 'PERSO' ‖ PAN ‖ PSN). */
export function derivePersonalizationKey(
  personalizationMasterKey: Uint8Array,
  pan: string,
  psn: number,
): Uint8Array {
  return aesCmac(
    personalizationMasterKey,
    concatBytes(new Uint8Array(Buffer.from(`PERSO${pan}`, 'ascii')), Uint8Array.of(psn)),
  );
}

/**
 * Prepares everything to issue one card: a fresh ICC RSA key, its certificate over the card's
 * static data, the derived AC master key, and the card's personalization key.
 */
export function prepareDemoCard(
  issuer: DemoIssuer,
  card: {
    pan: string;
    psn?: number;
    expiry: string;
    cardholderName: string;
    pin: string;
    pinTryLimit?: number;
    acAlgorithm?: AcAlgorithm;
    initialAtc?: number;
    biometricTemplate?: Int8Array;
    biometricTryLimit?: number;
    knowledgeSecret?: Uint8Array;
    knowledgeTryLimit?: number;
    merchantId?: string;
    offlineLimits?: OfflineLimits;
  },
): { personalization: CardPersonalization; personalizationKey: Uint8Array } {
  const psn = card.psn ?? 1;
  const acAlgorithm = card.acAlgorithm ?? 'aes';
  const icc = rsa(issuer.iccBits);
  const iccCertificate = createIccCertificate({
    issuerPrivateKey: issuer.issuer.privateKey,
    iccPublicKey: rsaPublicKeyOf(icc.publicKey),
    pan: card.pan,
    expiry: certificateExpiry(card.expiry),
    serial: randomBytes(3),
    staticData: cardStaticData({
      pan: card.pan,
      psn,
      expiry: card.expiry,
      ...(card.merchantId !== undefined ? { merchantId: card.merchantId } : {}),
    }),
  });
  const personalization: CardPersonalization = {
    pan: card.pan,
    psn,
    expiry: card.expiry,
    cardholderName: card.cardholderName,
    caPublicKeyIndex: issuer.ca.index,
    issuerCertificate: issuer.issuer.certificate,
    iccCertificate,
    iccPrivateKey: new Uint8Array(icc.privateKey.export({ format: 'der', type: 'pkcs8' })),
    acMasterKey: deriveCardAcMasterKey(issuer.acMasterKeys[acAlgorithm], card.pan, psn, acAlgorithm),
    acAlgorithm,
    pin: card.pin,
    pinTryLimit: card.pinTryLimit ?? 3,
    ...(card.initialAtc !== undefined ? { initialAtc: card.initialAtc } : {}),
    ...(card.biometricTemplate !== undefined ? { biometricTemplate: card.biometricTemplate } : {}),
    ...(card.biometricTryLimit !== undefined ? { biometricTryLimit: card.biometricTryLimit } : {}),
    ...(card.knowledgeSecret !== undefined ? { knowledgeSecret: card.knowledgeSecret } : {}),
    ...(card.knowledgeTryLimit !== undefined ? { knowledgeTryLimit: card.knowledgeTryLimit } : {}),
    ...(card.merchantId !== undefined ? { merchantId: card.merchantId } : {}),
    ...(card.offlineLimits !== undefined ? { offlineLimits: card.offlineLimits } : {}),
  };
  return {
    personalization,
    personalizationKey: derivePersonalizationKey(issuer.personalizationMasterKey, card.pan, psn),
  };
}
