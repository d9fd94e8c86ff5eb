/**
 * EMV key sizes of new key material: scheme-grade by default (CA and issuer 1984, cards 1024
 * bits), the demo's only when asked; sizes that break the EMV certificate format are refused
 * before any key is made; and a card issued under 1984-bit keys pays (records, DDA, PIN, ARQC)
 * against a real backend.
 */
import { describe, expect, it } from 'vitest';
import { createPrivateKey } from 'node:crypto';
import { cardRecords, rsaPublicKeyOf } from '@bluetill/protocol';
import {
  DEMO_KEY_BITS,
  SCHEME_KEY_BITS,
  checkEmvKeyBits,
  createKeyMaterial,
  emvKeyBitsOf,
  loadIssuer,
} from './key-material';
import { issueCard } from './card-issuing';
import { startBackendFixture } from '../test-support/backend-fixture';
import { sell } from '../test-support/sale';

describe('EMV key sizes', () => {
  it('are scheme-grade by default: CA and issuer 1984 bits, cards 1024', () => {
    const m = createKeyMaterial();
    expect(emvKeyBitsOf(m)).toEqual({ ca: 1984, issuer: 1984, icc: 1024 });
    expect(SCHEME_KEY_BITS).toEqual({ ca: 1984, issuer: 1984, icc: 1024 });
    const issued = issueCard(m, {
      pan: '6799990100000000019',
      expiry: '3012',
      cardholderName: 'ALICE A',
      pin: '1234',
    });
    expect(
      createPrivateKey({
        key: Buffer.from(issued.personalization.iccPrivateKey),
        format: 'der',
        type: 'pkcs8',
      }).asymmetricKeyDetails?.modulusLength,
    ).toBe(1024);
    // Every record, the 248-byte issuer certificate's too, fits one short READ RECORD response.
    const issuer = loadIssuer(m.emv);
    const records = cardRecords({ ...issued.personalization, caPublicKeyIndex: issuer.ca.index });
    expect(Math.max(...[...records.values()].map((r) => r.length))).toBeLessThanOrEqual(256);
    expect(issuer.issuer.certificate.certificate).toHaveLength(1984 / 8);
    expect(rsaPublicKeyOf(createPrivateKey(m.emv.caPrivatePem)).modulus).toHaveLength(1984 / 8);
  });

  it("are the demo's only when asked", () => {
    expect(emvKeyBitsOf(createKeyMaterial(Date.now(), { emvKeyBits: DEMO_KEY_BITS }))).toEqual({
      ca: 1024,
      issuer: 1024,
      icc: 768,
    });
  });

  it('that break the EMV certificate format are refused', () => {
    const refused = (b: { ca: number; issuer: number; icc: number }) =>
      expect(() => createKeyMaterial(Date.now(), { emvKeyBits: b })).toThrow(
        expect.objectContaining({ code: 'emv_key_size_invalid' }),
      );
    refused({ ca: 1024, issuer: 1152, icc: 768 }); // N_I > N_CA
    refused({ ca: 1984, issuer: 1024, icc: 1152 }); // N_IC > N_I
    refused({ ca: 2048, issuer: 2048, icc: 1024 }); // a certificate over one short record
    refused({ ca: 1984, issuer: 1984, icc: 1020 }); // not whole bytes
    refused({ ca: 1024, issuer: 1024, icc: 256 });
    expect(() => checkEmvKeyBits(SCHEME_KEY_BITS)).not.toThrow();
    expect(() => checkEmvKeyBits(DEMO_KEY_BITS)).not.toThrow();
  });

  it(
    'a card issued under 1984-bit CA and issuer keys (1024-bit card key) pays against a real backend',
    { timeout: 60_000 },
    async () => {
      const f = await startBackendFixture({ emvKeyBits: SCHEME_KEY_BITS });
      try {
        expect(
          emvKeyBitsOf((await import('../adapters/keys-file')).readKeysFile(f.seed.keysPath, f.masterKey)),
        ).toEqual(SCHEME_KEY_BITS);
        const receipt = await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'big-keys-1', minor: 1250 });
        expect(receipt.approved).toBe(true);
      } finally {
        await f.close();
      }
    },
  );
});
