import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes';
import {
  ApduError,
  apduCase,
  CardStatusError,
  decodeCommandApdu,
  decodeResponseApdu,
  describeStatusWord,
  encodeCommandApdu,
  encodeResponseApdu,
  generateAcCommand,
  getDataCommand,
  getProcessingOptionsCommand,
  internalAuthenticateCommand,
  putDataCommand,
  readRecordCommand,
  selectCommand,
  selectPpseCommand,
  storeDataCommand,
  SW,
  swTriesLeft,
  verifyCommand,
  type CommandApdu,
} from './index';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (e) {
    if (e instanceof ApduError) return e.code;
    throw e;
  }
  return undefined;
};

describe('command APDU: byte-exact cases 1-4', () => {
  it.each<[string, CommandApdu, number]>([
    ['00A40400', { cla: 0, ins: 0xa4, p1: 4, p2: 0, data: new Uint8Array() }, 1],
    ['80CA9F3600', { cla: 0x80, ins: 0xca, p1: 0x9f, p2: 0x36, data: new Uint8Array(), le: 256 }, 2],
    ['80CA9F3602', { cla: 0x80, ins: 0xca, p1: 0x9f, p2: 0x36, data: new Uint8Array(), le: 2 }, 2],
    [
      '0020008008241234FFFFFFFFFF',
      { cla: 0, ins: 0x20, p1: 0, p2: 0x80, data: fromHex('241234FFFFFFFFFF') },
      3,
    ],
    ['00880000041122334400', { cla: 0, ins: 0x88, p1: 0, p2: 0, data: fromHex('11223344'), le: 256 }, 4],
  ])('%s', (hex, apdu, kase) => {
    expect(toHex(encodeCommandApdu(apdu))).toBe(hex);
    expect(decodeCommandApdu(fromHex(hex))).toEqual(apdu);
    expect(apduCase(apdu)).toBe(kase);
  });

  it.each([
    ['00A404', 'too_short'],
    ['00A40400000003', 'extended_length'], // extended case 2
    ['00A4040000000201020000', 'extended_length'], // extended case 4
    ['00A4040005010203', 'bad_length'], // Lc 5 but 3 bytes
    ['00A404000201020304', 'bad_length'], // Lc 2 with 2 extra bytes
  ])('%s is rejected with ApduError(%s)', (hex, code) => {
    expect(codeOf(() => decodeCommandApdu(fromHex(hex)))).toBe(code);
  });

  it('rejects data over 255 bytes and Le over 256 on encode', () => {
    expect(codeOf(() => encodeCommandApdu({ cla: 0, ins: 0, p1: 0, p2: 0, data: new Uint8Array(256) }))).toBe(
      'extended_length',
    );
    expect(
      codeOf(() => encodeCommandApdu({ cla: 0, ins: 0, p1: 0, p2: 0, data: new Uint8Array(), le: 257 })),
    ).toBe('extended_length');
    expect(codeOf(() => encodeCommandApdu({ cla: 256, ins: 0, p1: 0, p2: 0, data: new Uint8Array() }))).toBe(
      'bad_field',
    );
  });

  it('decode(encode(x)) = x and random bytes raise only ApduError', () => {
    const arb = fc.record({
      cla: fc.integer({ min: 0, max: 255 }),
      ins: fc.integer({ min: 0, max: 255 }),
      p1: fc.integer({ min: 0, max: 255 }),
      p2: fc.integer({ min: 0, max: 255 }),
      data: fc.uint8Array({ maxLength: 255 }),
      le: fc.option(fc.integer({ min: 1, max: 256 }), { nil: undefined }),
    });
    fc.assert(
      fc.property(arb, (a) => {
        const apdu: CommandApdu =
          a.le === undefined ? { cla: a.cla, ins: a.ins, p1: a.p1, p2: a.p2, data: a.data } : a;
        expect(decodeCommandApdu(encodeCommandApdu(apdu))).toEqual(apdu);
      }),
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 270 }), (bytes) => {
        try {
          decodeCommandApdu(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(ApduError);
        }
      }),
    );
  });
});

describe('response APDU and status words', () => {
  it('splits data and SW', () => {
    const r = decodeResponseApdu(fromHex('9F3602000A9000'));
    expect(toHex(r.data)).toBe('9F3602000A');
    expect(r.sw).toBe(SW.OK);
    expect(toHex(encodeResponseApdu(fromHex('AB'), 0x6a82))).toBe('AB6A82');
    expect(codeOf(() => decodeResponseApdu(fromHex('90')))).toBe('too_short');
  });
  it.each([
    [0x9000, '9000 success'],
    [0x6a82, '6A82 file or application not found'],
    [0x6985, '6985 conditions of use not satisfied'],
    [0x63c2, '63C2 verification failed, 2 tries left'],
    [0x6983, '6983 authentication method blocked'],
    [0x6700, '6700 wrong length'],
    [0x6d00, '6D00 instruction code not supported or invalid'],
    [0x6e00, '6E00 class not supported'],
    [0x6a86, '6A86 incorrect parameters P1-P2'],
    [0x6a88, '6A88 referenced data not found'],
    [0x6a83, '6A83 record not found'],
    [0x6c10, '6C10 wrong Le: exact length is 16'],
    [0x6110, '6110 16 more bytes available (GET RESPONSE)'],
    [0x1234, '1234 unknown status'],
  ])('%s', (sw, text) => expect(describeStatusWord(sw)).toBe(text));
  it('CardStatusError carries sw, code and tries left', () => {
    const e = new CardStatusError(swTriesLeft(1), 'VERIFY');
    expect(e.sw).toBe(0x63c1);
    expect(e.code).toBe('pin_incorrect');
    expect(e.triesLeft).toBe(1);
    expect(e.message).toBe('VERIFY: 63C1 verification failed, 1 tries left');
    expect(new CardStatusError(0x6983).code).toBe('blocked');
    expect(new CardStatusError(0x6a82).code).toBe('file_not_found');
  });
});

describe('command builders: byte-exact', () => {
  it.each([
    // SELECT PPSE as every contactless kernel sends it (EMV Contactless Book B, "2PAY.SYS.DDF01")
    ['SELECT PPSE', selectPpseCommand(), '00A404000E325041592E5359532E444446303100'],
    ['SELECT AID', selectCommand(fromHex('A0000009990101')), '00A4040007A000000999010100'],
    ['SELECT next', selectCommand(fromHex('A0000009990101'), { next: true }), '00A4040207A000000999010100'],
    ['GPO empty PDOL', getProcessingOptionsCommand(new Uint8Array()), '80A8000002830000'],
    ['READ RECORD SFI 1 rec 1', readRecordCommand(1, 1), '00B2010C00'],
    ['READ RECORD SFI 2 rec 3', readRecordCommand(2, 3), '00B2031400'],
    ['INTERNAL AUTHENTICATE', internalAuthenticateCommand(fromHex('A25B09ED')), '0088000004A25B09ED00'],
    ['GENERATE AC ARQC', generateAcCommand('arqc', fromHex('0102')), '80AE800002010200'],
    ['GENERATE AC ARQC+CDA', generateAcCommand('arqc', fromHex('0102'), { cda: true }), '80AE900002010200'],
    ['GENERATE AC TC', generateAcCommand('tc', fromHex('01')), '80AE4000010100'],
    ['GENERATE AC AAC', generateAcCommand('aac', fromHex('01')), '80AE0000010100'],
    ['VERIFY plaintext', verifyCommand(fromHex('241234FFFFFFFFFF')), '0020008008241234FFFFFFFFFF'],
    ['GET DATA ATC', getDataCommand(0x9f36), '80CA9F3600'],
    ['GET DATA PIN try counter', getDataCommand(0x9f17), '80CA9F1700'],
    ['PUT DATA', putDataCommand(0x9f14, fromHex('03')), '00DA9F140103'],
    ['STORE DATA last', storeDataCommand(fromHex('AABB'), 2, true), '80E28002' + '02AABB'],
  ])('%s', (_name, bytes, hex) => {
    expect(toHex(bytes)).toBe(hex);
  });
  it('GPO wraps PDOL data in tag 83', () => {
    expect(toHex(getProcessingOptionsCommand(fromHex('000000001000097811223344')))).toBe(
      '80A800000E830C00000000100009781122334400',
    );
  });
  it('rejects bad SFI / record / tag values with ApduError', () => {
    expect(codeOf(() => readRecordCommand(0, 1))).toBe('bad_field');
    expect(codeOf(() => readRecordCommand(31, 1))).toBe('bad_field');
    expect(codeOf(() => readRecordCommand(1, 0))).toBe('bad_field');
    expect(codeOf(() => getDataCommand(0x10000))).toBe('bad_field');
  });
});
