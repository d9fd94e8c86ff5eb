import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  createECDH,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  verify,
  type KeyObject,
} from 'node:crypto';
import {
  PinSealError,
  Receipt,
  SealedPinBlock,
  generateP256,
  rawFromPublicKey,
  verifyWith,
  keyAgreementOf,
  openSealedPin,
  p256PrivateScalar,
  panField4,
  pinSealContext,
  readPinField4,
  sealPin,
} from '@bluetill/protocol';
import { SoftwareKeyStore } from './key-store.file';
import { createKeyMaterial } from '../admin/key-material';
import { nativeKeys, nativeKeyAgreement, nativeSigner, type NativeKeysBinding } from './native-keys';
import { signReceipt } from '../app/receipt-signer';

const hex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
/** A P-256 KeyObject from its scalar d and public point (JWK import checks they belong together). */
const keyFrom = (d: Uint8Array, point: Uint8Array) =>
  createPrivateKey({
    format: 'jwk',
    key: {
      kty: 'EC',
      crv: 'P-256',
      d: Buffer.from(d).toString('base64url'),
      x: Buffer.from(point.subarray(1, 33)).toString('base64url'),
      y: Buffer.from(point.subarray(33)).toString('base64url'),
    },
  });

// NIST CAVS 14.1, KAS ECC CDH Primitive (SP 800-56A), [P-256] COUNT = 0 (KAS_ECC_CDH_PrimitiveTest.txt).
const CAVS = {
  qCavs: hex(
    '04700c48f77f56584c5cc632ca65640db91b6bacce3a4df6b42ce7cc838833d287db71e509e3fd9b060ddb20ba5c51dcc5948d46fbf640dfe0441782cab85fa4ac',
  ),
  dIut: hex('7d7dc5f71eb29ddaf80d6214632eeae03d9058af1fb6d22ed80badb62bc1a534'),
  qIut: hex(
    '04ead218590119e8876b29146ff89ca61770c4edbbf97d38ce385ed281d8a6b23028af61281fd35e2fa7002523acc85a429cb06ee6648325389f59edfce1405141',
  ),
  z: hex('46fc62106420ff012e54a434fbdd2d25ccc5852060561e68040dd7778997bd7b'),
};
const N = hex('ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551'); // the order of P-256
const P = hex('ffffffff00000001000000000000000000000000ffffffffffffffffffffffff'); // its field prime

describe('native PIN key: P-256 key agreement', () => {
  it('is built by make setup and loads (the key store falls back to Node only where it is not)', () => {
    const native = nativeKeys();
    expect('error' in native ? native.error.message : 'loaded').toBe('loaded');
  });

  it("is what the key store opens sealed PINs with, and gives the same PIN as Node's ECDH", () => {
    const keys = new SoftwareKeyStore(createKeyMaterial());
    expect(keys.pinKey.agreement.kind).toBe('native');
    const context = pinSealContext(Uint8Array.of(1, 2, 3, 4), 'T-0001');
    const ecdh = createECDH('prime256v1');
    ecdh.setPrivateKey(p256PrivateScalar(keys.pinKey.privateKey));
    const pinKeyPublic = new Uint8Array(ecdh.getPublicKey());
    const sealed = sealPin({
      pin: '2468',
      pan: '4761739001010010',
      pinKey: pinKeyPublic,
      pinKeyId: keys.pinKey.id,
      context,
    });
    expect(
      openSealedPin(sealed, { pinPrivateKey: keys.pinKey.agreement, pan: '4761739001010010', context }),
    ).toBe('2468');
    expect(
      openSealedPin(sealed, { pinPrivateKey: keys.pinKey.privateKey, pan: '4761739001010010', context }),
    ).toBe('2468');
  });

  it('gives the NIST CAVS answer', () => {
    const a = nativeKeyAgreement(keyFrom(CAVS.dIut, CAVS.qIut))!;
    expect(Buffer.from(a.agree(CAVS.qCavs)).toString('hex')).toBe(Buffer.from(CAVS.z).toString('hex'));
  });

  it("gives Node's answer for random keys on both sides", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), () => {
        const server = generateP256();
        const phone = createECDH('prime256v1');
        phone.generateKeys();
        const point = new Uint8Array(phone.getPublicKey());
        const native = nativeKeyAgreement(server.privateKey)!.agree(point);
        expect(Buffer.from(native).equals(Buffer.from(keyAgreementOf(server.privateKey).agree(point)))).toBe(
          true,
        );
        expect(Buffer.from(native).equals(phone.computeSecret(server.publicRaw))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('opens a sealed PIN as the Node path does', () => {
    const key = generateP256();
    const context = pinSealContext(Uint8Array.of(9, 8, 7, 6), 'T-0001');
    const sealed = sealPin({
      pin: '975310',
      pan: '4761739001010010',
      pinKey: key.publicRaw,
      pinKeyId: 'pin-1',
      context,
    });
    expect(
      openSealedPin(sealed, {
        pinPrivateKey: nativeKeyAgreement(key.privateKey)!,
        pan: '4761739001010010',
        context,
      }),
    ).toBe('975310');
  });

  it('refuses a point that is not on P-256, in any encoding but uncompressed, or with a coordinate ≥ p', () => {
    const a = nativeKeyAgreement(generateP256().privateKey)!;
    const offCurve = Uint8Array.from(CAVS.qCavs);
    offCurve[64]! ^= 1;
    const xTooBig = new Uint8Array(65);
    xTooBig[0] = 4;
    xTooBig.set(P, 1); // x = p (≡ 0), y = 0: not a field element
    const compressed = Uint8Array.of(0x02, ...CAVS.qCavs.subarray(1, 33));
    const hybrid = Uint8Array.of(0x06, ...CAVS.qCavs.subarray(1));
    for (const bad of [
      offCurve,
      xTooBig,
      compressed,
      hybrid,
      Uint8Array.of(0),
      new Uint8Array(65),
      CAVS.qCavs.subarray(0, 64),
    ])
      expect(() => a.agree(bad), Buffer.from(bad).toString('hex')).toThrow(
        expect.objectContaining({ code: 'ERR_P256_BAD_POINT' }),
      );
  });

  it('refuses a scalar of the wrong size, zero or ≥ n, and what is not a key', () => {
    const { binding } = nativeKeys() as {
      binding: { createKey(d: Uint8Array): unknown; agree(k: unknown, p: Uint8Array): Buffer };
    };
    for (const d of [
      new Uint8Array(32),
      N,
      new Uint8Array(32).fill(0xff),
      new Uint8Array(31).fill(1),
      new Uint8Array(33).fill(1),
    ])
      expect(() => binding.createKey(d)).toThrow(expect.objectContaining({ code: 'ERR_P256_BAD_KEY' }));
    expect(() => binding.createKey('0'.repeat(32) as unknown as Uint8Array)).toThrow(TypeError);
    expect(() => binding.agree({}, CAVS.qCavs)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
  });

  it('answers random bytes with a secret Node agrees with, or a clean refusal', () => {
    const server = generateP256();
    const a = nativeKeyAgreement(server.privateKey)!;
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 0, maxLength: 70 }), fc.boolean(), (bytes, prefix) => {
        const point = prefix && bytes.length > 0 ? Uint8Array.of(4, ...bytes.subarray(1)) : bytes;
        let ours: Uint8Array | undefined;
        try {
          ours = a.agree(point);
        } catch (e) {
          expect((e as { code?: string }).code).toBe('ERR_P256_BAD_POINT');
        }
        let nodes: Uint8Array | undefined;
        try {
          nodes = keyAgreementOf(server.privateKey).agree(point);
        } catch {
          // Node refuses too (it also takes compressed points, which the wire never carries)
        }
        if (ours) expect(Buffer.from(ours).equals(Buffer.from(nodes!))).toBe(true);
      }),
      { numRuns: 2000 },
    );
  });

  describe('a sealed PIN opened whole (openPinField)', () => {
    const pinKey = generateP256();
    const native = nativeKeyAgreement(pinKey.privateKey)!;
    /** The Node path: a plain key agreement, no openPinField (protocol's own HKDF, AES-GCM, format 4). */
    const nodePath = keyAgreementOf(pinKey.privateKey);
    const outcome = (f: () => string): string => {
      try {
        return f();
      } catch (e) {
        expect(e).toBeInstanceOf(PinSealError);
        return 'refused';
      }
    };

    it('is what the native agreement offers, and the Node path is not', () => {
      expect(typeof native.openPinField).toBe('function');
      expect(nodePath.openPinField).toBeUndefined();
    });

    it('gives the PIN the Node path gives, for random PINs, PANs and contexts', () => {
      fc.assert(
        fc.property(
          fc.stringMatching(/^[0-9]{4,12}$/),
          fc.stringMatching(/^[0-9]{12,19}$/),
          fc.uint8Array({ maxLength: 40 }),
          (pin, pan, context) => {
            const sealed = sealPin({ pin, pan, pinKey: pinKey.publicRaw, pinKeyId: 'pin-1', context });
            expect(openSealedPin(sealed, { pinPrivateKey: native, pan, context })).toBe(pin);
            expect(openSealedPin(sealed, { pinPrivateKey: nodePath, pan, context })).toBe(pin);
          },
        ),
        { numRuns: 300 },
      );
    });

    it('agrees with the Node path on mutated seals, wrong PANs and wrong contexts: the same PIN, or both refuse', () => {
      const pan = '4761739001010010';
      const context = pinSealContext(Uint8Array.of(1, 2, 3, 4), 'T-0001');
      const sealed = sealPin({ pin: '2468', pan, pinKey: pinKey.publicRaw, pinKeyId: 'pin-1', context });
      let refused = 0;
      fc.assert(
        fc.property(
          fc.integer({ min: 0, max: sealed.length - 1 }),
          fc.integer({ min: 0, max: 255 }),
          fc.constantFrom(pan, '4761739001010028', '123456789012'),
          fc.boolean(),
          (at, value, claimedPan, sameContext) => {
            const mutated = Uint8Array.from(sealed);
            mutated[at] = value;
            const ctx = sameContext ? context : pinSealContext(Uint8Array.of(1, 2, 3, 5), 'T-0001');
            const ours = outcome(() =>
              openSealedPin(mutated, { pinPrivateKey: native, pan: claimedPan, context: ctx }),
            );
            expect(ours).toBe(
              outcome(() =>
                openSealedPin(mutated, { pinPrivateKey: nodePath, pan: claimedPan, context: ctx }),
              ),
            );
            if (ours === 'refused') refused++;
          },
        ),
        { numRuns: 1000 },
      );
      expect(refused).toBeGreaterThan(500); // most mutations, and every wrong context, are refused
    });

    it('says why it refuses: not genuine (any bit of block, tag or context), sizes, a point off the curve', () => {
      const { binding } = nativeKeys() as { binding: NativeKeysBinding };
      const key = binding.createKey(p256PrivateScalar(pinKey.privateKey));
      const context = Uint8Array.of(7, 7, 7);
      const sealed = SealedPinBlock.decode(
        sealPin({
          pin: '1357',
          pan: '4761739001010010',
          pinKey: pinKey.publicRaw,
          pinKeyId: 'pin-1',
          context,
        }),
      );
      const info = new TextEncoder().encode('bluetill/1 pin seal');
      const panField = panField4('4761739001010010');
      const open = (o: {
        point?: Uint8Array;
        ct?: Uint8Array;
        ctx?: Uint8Array;
        info?: Uint8Array;
        pan?: Uint8Array;
      }) =>
        binding.openPinField(
          key,
          o.point ?? sealed.ephemeralPublicKey,
          o.ct ?? sealed.ciphertext,
          o.ctx ?? context,
          o.info ?? info,
          o.pan ?? panField,
        );
      expect(readPinField4(open({}))).toBe('1357');
      for (let bit = 0; bit < 32 * 8; bit++) {
        const ct = Uint8Array.from(sealed.ciphertext);
        ct[bit >> 3]! ^= 1 << (bit & 7);
        expect(() => open({ ct })).toThrow(expect.objectContaining({ code: 'ERR_PIN_SEAL_NOT_GENUINE' }));
      }
      expect(() => open({ ctx: Uint8Array.of(7, 7) })).toThrow(
        expect.objectContaining({ code: 'ERR_PIN_SEAL_NOT_GENUINE' }),
      );
      expect(() => open({ info: new TextEncoder().encode('bluetill/2 pin seal') })).toThrow(
        expect.objectContaining({ code: 'ERR_PIN_SEAL_NOT_GENUINE' }),
      );
      expect(() => open({ ct: sealed.ciphertext.subarray(0, 31) })).toThrow(
        expect.objectContaining({ code: 'ERR_PIN_SEAL_BAD_SIZE' }),
      );
      expect(() => open({ pan: panField.subarray(0, 15) })).toThrow(
        expect.objectContaining({ code: 'ERR_PIN_SEAL_BAD_SIZE' }),
      );
      const offCurve = Uint8Array.from(sealed.ephemeralPublicKey);
      offCurve[64]! ^= 1;
      expect(() => open({ point: offCurve })).toThrow(
        expect.objectContaining({ code: 'ERR_P256_BAD_POINT' }),
      );
      expect(() =>
        binding.openPinField({}, sealed.ephemeralPublicKey, sealed.ciphertext, context, info, panField),
      ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
      expect(() =>
        (binding.openPinField as (...a: unknown[]) => Buffer)(key, sealed.ephemeralPublicKey),
      ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_COUNT' }));
    });

    it('answers random bytes in every argument with a 16-byte field or a clean refusal', () => {
      const { binding } = nativeKeys() as { binding: NativeKeysBinding };
      const key = binding.createKey(p256PrivateScalar(pinKey.privateKey));
      const codes = new Set(['ERR_P256_BAD_POINT', 'ERR_PIN_SEAL_BAD_SIZE', 'ERR_PIN_SEAL_NOT_GENUINE']);
      const real = sealPin({
        pin: '1357',
        pan: '4761739001010010',
        pinKey: pinKey.publicRaw,
        pinKeyId: 'pin-1',
        context: new Uint8Array(),
      });
      const point = SealedPinBlock.decode(real).ephemeralPublicKey;
      fc.assert(
        fc.property(
          fc.oneof(fc.constant(point), fc.uint8Array({ maxLength: 70 })),
          fc.uint8Array({ maxLength: 40 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.uint8Array({ maxLength: 40 }),
          fc.uint8Array({ maxLength: 20 }),
          (p, ct, ctx, info, pan) => {
            try {
              expect(binding.openPinField(key, p, ct, ctx, info, pan).length).toBe(16);
            } catch (e) {
              expect(codes.has((e as { code: string }).code), String(e)).toBe(true);
            }
          },
        ),
        { numRuns: 2000 },
      );
    });
  });
});

describe('native receipt signer: ECDSA P-256 / SHA-256', () => {
  const key = generateP256();
  const signer = nativeSigner(key.privateKey)!;

  it('is what the key store signs receipts with, and its receipts verify as the phone and the till check them', () => {
    const keys = new SoftwareKeyStore(createKeyMaterial());
    expect(keys.receiptKey.signer.kind).toBe('native');
    const signed = signReceipt(
      keys,
      Receipt.fromPartial({
        receiptId: 'R-T-0001-1',
        merchantName: 'Corner Shop',
        total: { minor: 250, currency: 'EUR' },
      }),
    );
    const publicRaw = rawFromPublicKey(createPublicKey(keys.receiptKey.privateKey));
    expect(verifyWith(publicRaw, signed.receipt, signed.signature)).toBe(true);
    const tampered = Uint8Array.from(signed.receipt);
    tampered[3]! ^= 1;
    expect(verifyWith(publicRaw, tampered, signed.signature)).toBe(false);
  });

  it('makes DER signatures Node verifies, for random data; two signatures of the same data differ (a fresh nonce) and both verify', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), (data) => {
        const a = signer.sign(data);
        const b = signer.sign(data);
        expect(a[0]).toBe(0x30); // DER SEQUENCE
        expect(Buffer.from(a).equals(Buffer.from(b))).toBe(false);
        for (const sig of [a, b]) expect(verify('sha256', data, key.publicKey, sig)).toBe(true);
        expect(verify('sha256', Buffer.concat([data, Uint8Array.of(0)]), key.publicKey, a)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it('refuses what is not a PKCS#8 P-256 private key, and what is not a key', () => {
    const { binding } = nativeKeys() as { binding: NativeKeysBinding };
    const der = (k: KeyObject) => new Uint8Array(k.export({ format: 'der', type: 'pkcs8' }));
    const p256 = der(key.privateKey);
    for (const bad of [
      der(generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).privateKey),
      der(generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey),
      der(generateKeyPairSync('ed25519').privateKey),
      new Uint8Array(0),
      p256.subarray(0, p256.length - 1),
      Uint8Array.of(...p256, 0),
      new Uint8Array(5000),
    ])
      expect(() => binding.createSigningKey(bad)).toThrow(
        expect.objectContaining({ code: 'ERR_SIGNING_BAD_KEY' }),
      );
    expect(() => binding.sign({}, Uint8Array.of(1))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    // A key of the other kind is refused, not read as the wrong structure (the externals are type-tagged).
    const pinKey = binding.createKey(p256PrivateScalar(key.privateKey));
    const signingKey = binding.createSigningKey(p256);
    expect(() => binding.sign(pinKey, Uint8Array.of(1))).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() => binding.agree(signingKey, key.publicRaw)).toThrow(
      expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }),
    );
    expect(() =>
      binding.openPinField(
        signingKey,
        key.publicRaw,
        new Uint8Array(32),
        new Uint8Array(),
        new Uint8Array(),
        new Uint8Array(16),
      ),
    ).toThrow(expect.objectContaining({ code: 'ERR_INVALID_ARG_TYPE' }));
    expect(binding.sign(signingKey, Uint8Array.of(1))[0]).toBe(0x30);
  });
});
