import { describe, expect, it } from 'vitest';
import { fromHex, toHex, utf8 } from '../bytes';
import { generateAc, generateArpc1, generateArpc2 } from './cryptogram';
import { EmvCryptoError } from './errors';
import { deriveIccMasterKeyA, deriveIccMasterKeyB, deriveSessionKey } from './keys';
import { aesCmac, retailMac } from './mac';
import { adjustOddParity, keyCheckValue } from './symmetric';

const kcv2 = (key: Uint8Array): string => toHex(keyCheckValue(key, 2));

describe('aesCmac (RFC 4493 section 4 / NIST SP 800-38B examples)', () => {
  // Source: RFC 4493 section 4 https://www.rfc-editor.org/rfc/rfc4493#section-4
  // (also aflybird/aes-cmac README.md, metacpan Crypt-OpenSSL-Base-Func t/aes_cmac.t)
  const key = fromHex('2b7e151628aed2a6abf7158809cf4f3c');
  const msg = fromHex(
    '6bc1bee22e409f96e93d7e117393172a ae2d8a571e03ac9c9eb76fac45af8e51 30c81c46a35ce411e5fbc1191a0a52ef f69f2445df4f9b17ad2b417be66c3710',
  );
  it.each([
    [0, 'BB1D6929E95937287FA37D129B756746'],
    [16, '070A16B46B4D4144F79BDD9DD04A287C'],
    [40, 'DFA66747DE9AE63030CA32611497C827'],
    [64, '51F0BEBF7E3B9D92FC49741779363CFE'],
  ])('Mlen=%i', (len, tag) => {
    expect(toHex(aesCmac(key, msg.subarray(0, len)))).toBe(tag);
  });
  // Source: NIST SP 800-38B examples via aflybird/aes-cmac README.md, "Example #3" Mlen=20
  it('Mlen=20 (NIST example 3)', () => {
    expect(toHex(aesCmac(key, msg.subarray(0, 20)))).toBe('7D85449EA6EA19C823A7BF78837DFADE');
  });
});

describe('retailMac (ISO 9797-1 MAC algorithm 3)', () => {
  // Source: knovichikhin/pyemv tests/test_mac.py test_mac_iso9797_3 (key AAAA..‖BBBB.., "hello world")
  const key = fromHex('AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBB');
  it('padding method 1', () =>
    expect(toHex(retailMac(key, utf8('hello world'), 1))).toBe('78DA3D3DEB48FD4D'));
  it('padding method 2', () =>
    expect(toHex(retailMac(key, utf8('hello world'), 2))).toBe('2BC2D9EDE0CF31F6'));
  it('rejects a single-length key with the typed error', () => {
    expect(() => retailMac(key.subarray(0, 8), utf8('x'), 1)).toThrow(EmvCryptoError);
  });
});

describe('EMV Book 2 Annex A key derivation', () => {
  const imk = fromHex('0123456789ABCDEFFEDCBA9876543210');
  // Source: knovichikhin/pyemv pyemv/kd.py module docstring (derive_icc_mk_a example)
  it('Option A, full key', () => {
    expect(toHex(deriveIccMasterKeyA(imk, '99012345678901234', '45'))).toBe(
      '67F8292358083E5EA7AB7FDA58D53B6B',
    );
  });
  // Source: knovichikhin/pyemv tests/test_cvn.py (test_derive_icc_mk_a_psn, _no_psn, test_derive_common_sk,
  // test_derive_icc_mk_b_*): key check values (2 bytes), ARQC over 0123456789ABCDEF0123456789ABCDEF, ARPCs.
  it('issuer master key KCV', () => expect(kcv2(imk)).toBe('08D7'));
  const data = fromHex('0123456789ABCDEF0123456789ABCDEF');
  const r = fromHex('1234567890123456');
  it('Option A with PSN, session key, ARQC, ARPC method 1', () => {
    const mk = deriveIccMasterKeyA(imk, '12345678901234567', '45');
    expect(kcv2(mk)).toBe('FF08');
    const sk = deriveSessionKey(mk, r);
    expect(kcv2(sk)).toBe('DF82');
    const arqc = generateAc(sk, data);
    expect(toHex(arqc)).toBe('19C1FBC83EBDC0D5');
    expect(toHex(generateArpc1(mk, arqc, fromHex('0000')))).toBe('78A372523FA35A03');
    expect(toHex(generateArpc1(sk, arqc, fromHex('0000')))).toBe('C3620580668E5B65');
  });
  it('Option A without PSN', () => {
    const mk = deriveIccMasterKeyA(imk, '12345678901234567');
    const sk = deriveSessionKey(mk, r);
    expect(kcv2(sk)).toBe('3F4F');
    const arqc = generateAc(sk, data);
    expect(toHex(arqc)).toBe('8698A7319324FD93');
    expect(toHex(generateArpc1(mk, arqc, fromHex('0000')))).toBe('BEA11C8F4A47EF6F');
  });
  it.each([
    ['1234567890123456', undefined, 'BAB0', 'BC19', '0CE77D211CB5459A', '8CD9AA5D'],
    ['12345678901234567', '45', '0BAF', '4262', '5760EE07B4FA65D1', '106B81D9'],
    ['12345678901234567', undefined, '4626', '7F36', '0BAA251EA8989442', 'C1C41F3A'],
    ['123456789012345679', '00', 'C2F3', '7C35', 'DC95BCE3EBBE0296', 'ECCA0C4B'],
  ])('Option B pan=%s psn=%s, ARPC method 2', (pan, psn, mkKcv, skKcv, arqcHex, arpcHex) => {
    const mk = deriveIccMasterKeyB(imk, pan, psn);
    expect(kcv2(mk)).toBe(mkKcv);
    const sk = deriveSessionKey(mk, r);
    expect(kcv2(sk)).toBe(skKcv);
    const arqc = generateAc(sk, data);
    expect(toHex(arqc)).toBe(arqcHex);
    expect(toHex(generateArpc2(sk, arqc, fromHex('00000000')))).toBe(arpcHex);
  });
  it('Option B where SHA-1 has too few digits (decimalisation), ATC-style R, ARPC 2 with proprietary data', () => {
    const mk = deriveIccMasterKeyB(imk, '000000000000000005', '23');
    expect(kcv2(mk)).toBe('DD73');
    const sk = deriveSessionKey(mk, fromHex('001C'));
    expect(kcv2(sk)).toBe('04F8');
    const arqc = generateAc(
      sk,
      fromHex('00000000400000000000000001248000048000012' + '41911050152BF45851800001C06011203A0B800'),
    );
    expect(toHex(arqc)).toBe('8CAD6F2489C640B1');
    expect(toHex(generateArpc2(sk, arqc, fromHex('00000000'), fromHex('12345678')))).toBe('E39F1876');
  });
  it('derived keys have odd parity', () => {
    const mk = deriveIccMasterKeyA(imk, '12345678901234567', '45');
    expect(toHex(adjustOddParity(mk))).toBe(toHex(mk));
  });
  it('bad PAN / key lengths raise EmvCryptoError', () => {
    expect(() => deriveIccMasterKeyA(imk, '12AB')).toThrow(EmvCryptoError);
    expect(() => deriveIccMasterKeyA(imk.subarray(0, 8), '1234')).toThrow(EmvCryptoError);
    expect(() => deriveSessionKey(imk, fromHex('0102030405'))).toThrow(EmvCryptoError);
    expect(() => generateArpc1(imk, fromHex('00'), fromHex('0000'))).toThrow(EmvCryptoError);
  });
});
