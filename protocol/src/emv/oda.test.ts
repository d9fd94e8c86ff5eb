import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { concatBytes, fromHex, toHex } from '../bytes';
import { OdaError } from './errors';
import {
  cdaTransactionDataHash,
  createIccCertificate,
  createIssuerCertificate,
  recoverIccPublicKey,
  recoverIssuerPublicKey,
  decodeCardCounters,
  encodeCardCounters,
  signCda,
  signDynamicData,
  signStaticData,
  staticDataToAuthenticate,
  verifyCda,
  verifyDda,
  verifySda,
} from './oda';
import { rsaPublicKeyOf, rsaRecover, rsaSign } from './rsa';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof OdaError) return e.code;
    throw e;
  }
  return undefined;
};

describe('issuer public key recovery: published card data', () => {
  // Source: SHHam12/NFC-EMV-Adaptor, NFC-EMV-Adaptor/src/test/java/com/github/shham12/nfc_emv_adaptor/
  //   iso7816emv/parser/ICCPublicKeyDecoderTest.kt: CA key RID A000000025 index C9 (exponent 03),
  //   tags 90, 92, 9F32, 5A, 9F46, 9F47 of an American Express test card. Records are not published,
  //   so the ICC certificate can be checked up to (not including) its hash over the static data.
  const caPublicKey = {
    modulus: fromHex(
      'B362DB5733C15B8797B8ECEE55CB1A371F760E0BEDD3715BB270424FD4EA26062C38C3F4AAA3732A83D36EA8E9602F6683EECC6BAFF63DD2D49014BDE4D6D603CD744206B05B4BAD0C64C63AB3976B5C8CAAF8539549F5921C0B700D5B0F83C4E7E946068BAAAB5463544DB18C63801118F2182EFCC8A1E85E53C2A7AE839A5C6A3CABE73762B70D170AB64AFC6CA482944902611FB0061E09A67ACB77E493D998A0CCF93D81A4F6C0DC6B7DF22E62DB',
    ),
    exponent: fromHex('03'),
  };
  const cert90 = fromHex(
    '20DF7FF4B9968169B50DABED606B2FA12A0A26ED0A9791F5FE16965AC3A3AC60924BA722A7EA668D40C79A7A8F519949A2E7059CCD4685C16465084A47AA71192ABEF7D45AAE2513501D81BA150A6C533B02026C275888DA3E2D62C1554ED49BC9BECABF24387B1BDE7A06E9861B6CC0F0DACCC001393D4E4CB976EBB3C2FC0165D4A32C0CB99BD8549B8295026620D028204524ACED3379558490450D21B6A062204FAF5160FE24CF5AC5F2D9B20533',
  );
  const rem92 = fromHex('8FC44EE8B5ECB266790274EEF50A9F6BD598C58C444508E6DF9AB7A5028DE7DEB5DA6BDB');
  const cert9F46 = fromHex(
    '5F9CAF135C826BE612AFE7FE141E3D41E1E7A2AF8BB5EDE18745225954ABEA5362C94BBBF13C3CAD1F08BD1D6BD9C424EF0EF6DEDE36BD292E12DA7C24459E2FBEC191C625032F59B7F61E045DC6E536F0E53D0ACB0E8E342DC79F2384C37E346C7B56326898DEDB7766603FAC80691ABAE30593E909F4B5E39236D0EB4508214E2BD0344B72CBD1048B294A592B84BA01E646760ED07B5AF0034FB3EA9D78409CFE45E3BDF916DA1789C924F2379AE6',
  );
  const pan = '374245002751005';

  it('recovers the issuer key (hash over recovered data, remainder 92 and exponent 9F32 checks out)', () => {
    const issuer = recoverIssuerPublicKey({
      caPublicKey,
      certificate: cert90,
      remainder: rem92,
      exponent: fromHex('03'),
      pan,
    });
    expect(pan.startsWith(issuer.issuerIdentifier)).toBe(true);
    expect(issuer.publicKey.modulus.length).toBe(cert90.length - 36 + rem92.length);
    expect(toHex(issuer.publicKey.modulus.subarray(-rem92.length))).toBe(toHex(rem92));
    // The ICC certificate then opens under the recovered key: header, format 04 and PAN match;
    // only the hash over the (unpublished) records differs.
    expect(
      codeOf(() =>
        recoverIccPublicKey({
          issuerPublicKey: issuer.publicKey,
          certificate: cert9F46,
          exponent: fromHex('03'),
          pan,
          staticData: new Uint8Array(),
        }),
      ),
    ).toBe('hash_mismatch');
  });
  it('a flipped bit in the certificate, a wrong remainder, a wrong PAN, or a wrong length fail with OdaError', () => {
    const bad = Uint8Array.from(cert90);
    bad[100] = (bad[100] as number) ^ 1;
    expect(
      codeOf(() =>
        recoverIssuerPublicKey({
          caPublicKey,
          certificate: bad,
          remainder: rem92,
          exponent: fromHex('03'),
          pan,
        }),
      ),
    ).toMatch(/bad_header|bad_trailer|bad_format|hash_mismatch/);
    const rem = Uint8Array.from(rem92);
    rem[0] = (rem[0] as number) ^ 1;
    expect(
      codeOf(() =>
        recoverIssuerPublicKey({
          caPublicKey,
          certificate: cert90,
          remainder: rem,
          exponent: fromHex('03'),
          pan,
        }),
      ),
    ).toBe('hash_mismatch');
    expect(
      codeOf(() =>
        recoverIssuerPublicKey({
          caPublicKey,
          certificate: cert90,
          remainder: rem92,
          exponent: fromHex('03'),
          pan: '4111111111111111',
        }),
      ),
    ).toBe('pan_mismatch');
    expect(
      codeOf(() =>
        recoverIssuerPublicKey({
          caPublicKey,
          certificate: cert90.subarray(1),
          remainder: rem92,
          exponent: fromHex('03'),
          pan,
        }),
      ),
    ).toBe('bad_length');
  });
});

describe('certificate chain, SDA, DDA and CDA round trips (generated keys)', () => {
  const gen = (bits: number) => generateKeyPairSync('rsa', { modulusLength: bits, publicExponent: 3 });
  const ca = gen(1024);
  const issuer = gen(1024);
  const icc = gen(1024);
  const smallIcc = gen(512);
  const pan = '9990010000000017';
  const staticData = staticDataToAuthenticate(
    [{ sfi: 1, record: 1, data: fromHex('700A5A089990010000000017') }],
    fromHex('3900'),
  );

  const issuerCert = createIssuerCertificate({
    caPrivateKey: ca.privateKey,
    issuerPublicKey: rsaPublicKeyOf(issuer.publicKey),
    issuerIdentifier: '999001',
    expiry: fromHex('1230'),
    serial: fromHex('000001'),
  });
  const iccCert = createIccCertificate({
    issuerPrivateKey: issuer.privateKey,
    iccPublicKey: rsaPublicKeyOf(icc.publicKey),
    pan,
    expiry: fromHex('1230'),
    serial: fromHex('000002'),
    staticData,
  });

  it('static data: 70 template stripped for SFI 1-10, AIP appended', () => {
    expect(toHex(staticData)).toBe('5A089990010000000017' + '3900');
    expect(toHex(staticDataToAuthenticate([{ sfi: 11, record: 1, data: fromHex('7001FF') }]))).toBe('7001FF');
    expect(codeOf(() => staticDataToAuthenticate([{ sfi: 2, record: 1, data: fromHex('5A01FF') }]))).toBe(
      'bad_format',
    );
  });

  it('issuer and ICC keys with remainders recover; expiry is enforced', () => {
    expect(issuerCert.remainder.length).toBe(128 - (128 - 36));
    const issuerKey = recoverIssuerPublicKey({
      caPublicKey: rsaPublicKeyOf(ca.publicKey),
      ...issuerCert,
      pan,
      now: new Date('2030-12-31T00:00:00Z'),
    });
    expect(toHex(issuerKey.publicKey.modulus)).toBe(toHex(rsaPublicKeyOf(issuer.publicKey).modulus));
    expect(issuerKey.issuerIdentifier).toBe('999001');
    const iccKey = recoverIccPublicKey({ issuerPublicKey: issuerKey.publicKey, ...iccCert, pan, staticData });
    expect(toHex(iccKey.publicKey.modulus)).toBe(toHex(rsaPublicKeyOf(icc.publicKey).modulus));
    expect(
      codeOf(() =>
        recoverIssuerPublicKey({
          caPublicKey: rsaPublicKeyOf(ca.publicKey),
          ...issuerCert,
          pan,
          now: new Date('2031-01-01T00:00:00Z'),
        }),
      ),
    ).toBe('certificate_expired');
    expect(
      codeOf(() =>
        recoverIccPublicKey({
          issuerPublicKey: issuerKey.publicKey,
          ...iccCert,
          pan,
          staticData: fromHex('00'),
        }),
      ),
    ).toBe('hash_mismatch');
    expect(
      codeOf(() =>
        recoverIccPublicKey({
          issuerPublicKey: issuerKey.publicKey,
          ...iccCert,
          remainder: undefined,
          pan,
          staticData,
        }),
      ),
    ).toBe('hash_mismatch');
    expect(
      codeOf(() =>
        recoverIssuerPublicKey({ caPublicKey: rsaPublicKeyOf(issuer.publicKey), ...issuerCert, pan }),
      ),
    ).toMatch(/bad_header|bad_trailer|bad_format/);
  });

  it('a short ICC key sits padded with BB in the certificate, no remainder', () => {
    const cert = createIccCertificate({
      issuerPrivateKey: issuer.privateKey,
      iccPublicKey: rsaPublicKeyOf(smallIcc.publicKey),
      pan,
      expiry: fromHex('1230'),
      serial: fromHex('000003'),
      staticData,
    });
    expect(cert.remainder.length).toBe(0);
    const key = recoverIccPublicKey({
      issuerPublicKey: rsaPublicKeyOf(issuer.publicKey),
      ...cert,
      pan,
      staticData,
    });
    expect(toHex(key.publicKey.modulus)).toBe(toHex(rsaPublicKeyOf(smallIcc.publicKey).modulus));
  });

  it('SDA', () => {
    const signed = signStaticData({
      issuerPrivateKey: issuer.privateKey,
      dataAuthenticationCode: fromHex('DAC1'),
      staticData,
    });
    expect(
      toHex(
        verifySda({ issuerPublicKey: rsaPublicKeyOf(issuer.publicKey), signedStaticData: signed, staticData })
          .dataAuthenticationCode,
      ),
    ).toBe('DAC1');
    expect(
      codeOf(() =>
        verifySda({
          issuerPublicKey: rsaPublicKeyOf(issuer.publicKey),
          signedStaticData: signed,
          staticData: concatBytes(staticData, fromHex('00')),
        }),
      ),
    ).toBe('hash_mismatch');
  });

  it('DDA over the unpredictable number', () => {
    const un = fromHex('A25B09ED');
    const sig = signDynamicData({
      iccPrivateKey: icc.privateKey,
      iccDynamicNumber: fromHex('0102030405060708'),
      terminalData: un,
    });
    expect(sig.length).toBe(128);
    expect(
      toHex(
        verifyDda({ iccPublicKey: rsaPublicKeyOf(icc.publicKey), signedDynamicData: sig, terminalData: un })
          .iccDynamicNumber,
      ),
    ).toBe('0102030405060708');
    expect(
      codeOf(() =>
        verifyDda({
          iccPublicKey: rsaPublicKeyOf(icc.publicKey),
          signedDynamicData: sig,
          terminalData: fromHex('A25B09EE'),
        }),
      ),
    ).toBe('hash_mismatch');
  });

  it('CDA binds CID, AC and the transaction data hash', () => {
    const un = fromHex('11223344');
    const ac = fromHex('1122334455667788');
    const tdh = cdaTransactionDataHash(
      fromHex('000000001000'),
      fromHex('0978'),
      fromHex('9F2701809F360200019F2608' + '1122334455667788'),
    );
    const sig = signCda({
      iccPrivateKey: icc.privateKey,
      iccDynamicNumber: fromHex('AABB'),
      cid: 0x80,
      ac,
      transactionDataHash: tdh,
      unpredictableNumber: un,
    });
    const ok = verifyCda({
      iccPublicKey: rsaPublicKeyOf(icc.publicKey),
      signedDynamicData: sig,
      unpredictableNumber: un,
      cid: 0x80,
      transactionDataHash: tdh,
    });
    expect(toHex(ok.ac)).toBe(toHex(ac));
    expect(
      codeOf(() =>
        verifyCda({
          iccPublicKey: rsaPublicKeyOf(icc.publicKey),
          signedDynamicData: sig,
          unpredictableNumber: un,
          cid: 0x40,
          transactionDataHash: tdh,
        }),
      ),
    ).toBe('data_mismatch');
    expect(
      codeOf(() =>
        verifyCda({
          iccPublicKey: rsaPublicKeyOf(icc.publicKey),
          signedDynamicData: sig,
          unpredictableNumber: un,
          cid: 0x80,
          transactionDataHash: new Uint8Array(20),
        }),
      ),
    ).toBe('data_mismatch');
    expect(
      codeOf(() =>
        verifyCda({
          iccPublicKey: rsaPublicKeyOf(icc.publicKey),
          signedDynamicData: sig,
          unpredictableNumber: fromHex('11223345'),
          cid: 0x80,
          transactionDataHash: tdh,
        }),
      ),
    ).toBe('hash_mismatch');
  });

  it('DDA carries the card counters after the dynamic number: 9F17, DF21, DF22, signed with the UN', () => {
    const un = fromHex('A25B09ED');
    const pub = rsaPublicKeyOf(icc.publicKey);
    const counters = { pinTriesLeft: 1, biometricTriesLeft: 5, knowledgeTriesLeft: 0 };
    const sig = signDynamicData({
      iccPrivateKey: icc.privateKey,
      iccDynamicNumber: fromHex('0102030405060708'),
      terminalData: un,
      counters,
    });
    // Recovered: 6A 05 01 Ldd (21) ‖ 08 ‖ IDN ‖ 9F17 01 01 DF21 01 05 DF22 01 00 ‖ BB… ‖ hash ‖ BC.
    expect(toHex(rsaRecover(pub, sig).subarray(0, 25))).toBe(
      '6A050115' + '080102030405060708' + '9F170101DF210105DF220100',
    );
    expect(verifyDda({ iccPublicKey: pub, signedDynamicData: sig, terminalData: un })).toEqual({
      iccDynamicNumber: fromHex('0102030405060708'),
      counters,
    });
    // A card issued before counters were signed: none returned.
    const old = signDynamicData({
      iccPrivateKey: icc.privateKey,
      iccDynamicNumber: fromHex('0102'),
      terminalData: un,
    });
    expect(
      verifyDda({ iccPublicKey: pub, signedDynamicData: old, terminalData: un }).counters,
    ).toBeUndefined();
  });

  it('a counter changed in the dynamic data fails the signature: the hash covers it', () => {
    const un = fromHex('A25B09ED');
    const pub = rsaPublicKeyOf(icc.publicKey);
    const sig = signDynamicData({
      iccPrivateKey: icc.privateKey,
      iccDynamicNumber: fromHex('0102030405060708'),
      terminalData: un,
      counters: { pinTriesLeft: 1 },
    });
    const recovered = rsaRecover(pub, sig);
    const at = 4 + 9 + 3;
    expect(recovered[at]).toBe(1);
    // Even with the ICC key to re-sign, a changed counter under the card's hash does not verify.
    const edited = Uint8Array.from(recovered);
    edited[at] = 3;
    expect(
      codeOf(() =>
        verifyDda({
          iccPublicKey: pub,
          signedDynamicData: rsaSign(icc.privateKey, edited),
          terminalData: un,
        }),
      ),
    ).toBe('hash_mismatch');
    // Without it, an edited signature does not even recover.
    const flipped = Uint8Array.from(sig);
    flipped[40] = (flipped[40] as number) ^ 0x01;
    expect(
      codeOf(() => verifyDda({ iccPublicKey: pub, signedDynamicData: flipped, terminalData: un })),
    ).toMatch(/bad_header|bad_trailer|bad_format|hash_mismatch/);
  });

  it('CDA carries the counters after the transaction data hash', () => {
    const un = fromHex('11223344');
    const ac = fromHex('1122334455667788');
    const tdh = new Uint8Array(20).fill(7);
    const sig = signCda({
      iccPrivateKey: icc.privateKey,
      iccDynamicNumber: fromHex('AABB'),
      cid: 0x80,
      ac,
      transactionDataHash: tdh,
      unpredictableNumber: un,
      counters: { pinTriesLeft: 2 },
    });
    expect(
      verifyCda({
        iccPublicKey: rsaPublicKeyOf(icc.publicKey),
        signedDynamicData: sig,
        unpredictableNumber: un,
        cid: 0x80,
        transactionDataHash: tdh,
      }).counters,
    ).toEqual({ pinTriesLeft: 2 });
    const old = signCda({
      iccPrivateKey: icc.privateKey,
      iccDynamicNumber: fromHex('AABB'),
      cid: 0x80,
      ac,
      transactionDataHash: tdh,
      unpredictableNumber: un,
    });
    expect(
      verifyCda({
        iccPublicKey: rsaPublicKeyOf(icc.publicKey),
        signedDynamicData: old,
        unpredictableNumber: un,
        cid: 0x80,
        transactionDataHash: tdh,
      }).counters,
    ).toBeUndefined();
  });

  it('card counters: byte-exact, and anything but the layout is bad_format', () => {
    expect(toHex(encodeCardCounters({ pinTriesLeft: 3 }))).toBe('9F170103');
    expect(decodeCardCounters(fromHex('9F170103DF220102'))).toEqual({
      pinTriesLeft: 3,
      knowledgeTriesLeft: 2,
    });
    expect(decodeCardCounters(new Uint8Array(0))).toBeUndefined();
    for (const bad of ['DF210105', '9F1701039F170103', '9F17020003', '9F1801039F170103', 'FF', '9F17'])
      expect(
        codeOf(() => decodeCardCounters(fromHex(bad))),
        bad,
      ).toBe('bad_format');
    expect(codeOf(() => encodeCardCounters({ pinTriesLeft: 256 }))).toBe('bad_format');
  });
});
