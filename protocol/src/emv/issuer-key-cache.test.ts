/**
 * The issuer key cache: a hit gives what a fresh recovery gives; the PAN and expiry are
 * checked on every use; a certificate that differs in one byte, or another CA key under the same
 * index, is never answered from the cache; the bound holds (least recently used goes first).
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes';
import { IssuerKeyCache } from './issuer-key-cache';
import { createIssuerCertificate, recoverIssuerPublicKey } from './oda';
import { rsaPublicKeyOf } from './rsa';

const gen = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 3 });
const ca = gen(1024);
const caPublicKey = rsaPublicKeyOf(ca.publicKey);
const issuerCert = (identifier: string, expiry: string) =>
  createIssuerCertificate({
    caPrivateKey: ca.privateKey,
    issuerPublicKey: rsaPublicKeyOf(gen(1024).publicKey),
    issuerIdentifier: identifier,
    expiry: fromHex(expiry),
    serial: fromHex('000001'),
  });
const pan = '9990010000000017';
const june2030 = new Date('2030-06-15T00:00:00Z');

describe('IssuerKeyCache', () => {
  it('recovers once per certificate; a hit equals a fresh recovery', () => {
    const cert = issuerCert('999001', '1230');
    const cache = new IssuerKeyCache();
    const first = cache.recover({ caIndex: 1, caPublicKey, ...cert, pan, now: june2030 });
    const second = cache.recover({
      caIndex: 1,
      caPublicKey,
      ...cert,
      pan: '9990019999999999',
      now: june2030,
    });
    expect(cache.stats).toEqual({ hits: 1, misses: 1 });
    const fresh = recoverIssuerPublicKey({ caPublicKey, ...cert, pan, now: june2030 });
    for (const got of [first, second]) {
      expect(toHex(got.publicKey.modulus)).toBe(toHex(fresh.publicKey.modulus));
      expect(got.issuerIdentifier).toBe(fresh.issuerIdentifier);
      expect(toHex(got.expiry)).toBe(toHex(fresh.expiry));
    }
  });

  it('checks expiry and the PAN on every use, also on a hit', () => {
    const cert = issuerCert('999001', '1230');
    const cache = new IssuerKeyCache();
    cache.recover({ caIndex: 1, caPublicKey, ...cert, pan, now: june2030 });
    expect(() =>
      cache.recover({ caIndex: 1, caPublicKey, ...cert, pan, now: new Date('2031-01-01T00:00:00Z') }),
    ).toThrow(expect.objectContaining({ code: 'certificate_expired' }));
    expect(() =>
      cache.recover({ caIndex: 1, caPublicKey, ...cert, pan: '4111111111111111', now: june2030 }),
    ).toThrow(expect.objectContaining({ code: 'pan_mismatch' }));
    expect(cache.stats).toEqual({ hits: 2, misses: 1 });
    // Still valid the day after for a matching card: nothing was poisoned by the failures.
    expect(cache.recover({ caIndex: 1, caPublicKey, ...cert, pan, now: june2030 }).issuerIdentifier).toBe(
      '999001',
    );
  });

  it('never answers a changed certificate, remainder or exponent, or another CA key, from the cache', () => {
    const cert = issuerCert('999001', '1230');
    const cache = new IssuerKeyCache();
    cache.recover({ caIndex: 1, caPublicKey, ...cert, pan, now: june2030 });
    const flipped = Uint8Array.from(cert.certificate);
    flipped[40] = flipped[40]! ^ 1;
    expect(() =>
      cache.recover({ caIndex: 1, caPublicKey, ...cert, certificate: flipped, pan, now: june2030 }),
    ).toThrow();
    const rem = Uint8Array.from(cert.remainder);
    rem[0] = rem[0]! ^ 1;
    expect(() =>
      cache.recover({ caIndex: 1, caPublicKey, ...cert, remainder: rem, pan, now: june2030 }),
    ).toThrow(expect.objectContaining({ code: 'hash_mismatch' }));
    expect(() =>
      cache.recover({ caIndex: 1, caPublicKey, ...cert, exponent: fromHex('010001'), pan, now: june2030 }),
    ).toThrow();
    // Same index, another CA key (a rotated or wrong key): recovered again, and fails under it.
    const otherCa = rsaPublicKeyOf(gen(1024).publicKey);
    expect(() => cache.recover({ caIndex: 1, caPublicKey: otherCa, ...cert, pan, now: june2030 })).toThrow();
    expect(cache.stats.hits).toBe(0);
    // Failures are not kept.
    expect(cache.size).toBe(1);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const certs = ['999001', '999002', '999003'].map((id) => issuerCert(id, '1230'));
    const cache = new IssuerKeyCache(2);
    const use = (i: number) =>
      cache.recover({
        caIndex: 1,
        caPublicKey,
        ...certs[i]!,
        pan: `${['999001', '999002', '999003'][i]}0000000017`.slice(0, 16),
        now: june2030,
      });
    use(0);
    use(1);
    use(0); // 0 is now the most recent
    use(2); // evicts 1
    expect(cache.size).toBe(2);
    const before = cache.stats.misses;
    use(0);
    expect(cache.stats.misses).toBe(before); // still there
    use(1);
    expect(cache.stats.misses).toBe(before + 1); // was evicted
    expect(cache.size).toBe(2);
    expect(() => new IssuerKeyCache(0)).toThrow(RangeError);
  });
});
