import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromHex, toHex } from '../bytes';
import { buildDolData, parseDol, splitDolData } from './dol';
import { TlvError } from './errors';
import { decodeTlv, encodeTlv, findTag, flattenTlv, type Tlv } from './tlv';

const flat = (hex: string): Record<string, string> =>
  Object.fromEntries([...flattenTlv(decodeTlv(fromHex(hex)))].map(([t, v]) => [t, toHex(v)]));

describe('decodeTlv: byte-exact table', () => {
  // Source: knovichikhin/pyemv tests/test_tlv.py test_decode_tag (rows with 80 / 84 length forms
  // are rejected here: EMV Book 3 Annex B allows at most 3 subsequent length bytes, no indefinite form).
  it.each([
    ['', {}],
    ['9C00', { '9C': '' }],
    ['9C01FF', { '9C': 'FF' }],
    ['9C8101FF', { '9C': 'FF' }],
    ['9F0200', { '9F02': '' }],
    ['9F0201FF', { '9F02': 'FF' }],
    ['9F820100', { '9F8201': '' }],
    ['9F820101FF', { '9F8201': 'FF' }],
    ['9C8100', { '9C': '' }],
    ['9C820000', { '9C': '' }],
    ['9C83000000', { '9C': '' }],
    ['9C820001FF', { '9C': 'FF' }],
    ['9C83000001FF', { '9C': 'FF' }],
    // Book 3 Annex B: '00' padding before / between / after objects is skipped
    ['009C01FF00009F0200', { '9C': 'FF', '9F02': '' }],
  ])('%s', (hex, want) => expect(flat(hex)).toEqual(want));

  // Source: knovichikhin/pyemv tests/test_tlv.py test_decode_nested
  it('nested constructed object', () => {
    const nodes = decodeTlv(fromHex('9F0201FFE0039F03009F0400'));
    expect(nodes.map((n) => n.tag)).toEqual(['9F02', 'E0', '9F04']);
    expect(nodes[1]?.children?.map((c) => c.tag)).toEqual(['9F03']);
    expect(toHex(findTag(nodes, '9f03') ?? fromHex('EE'))).toBe('');
  });

  it('a real SELECT PPSE response (FCI with nested templates)', () => {
    // 6F FCI > 84 DF name, A5 proprietary > BF0C > 61 directory entry > 4F AID, 87 priority
    const hex = '6F23840E325041592E5359532E4444463031A511BF0C0E610C4F07A00000099901018701 01'.replace(
      / /g,
      '',
    );
    const nodes = decodeTlv(fromHex(hex));
    expect(toHex(findTag(nodes, '4F') ?? new Uint8Array())).toBe('A0000009990101');
    expect(toHex(encodeTlv(nodes))).toBe(hex);
  });

  // Source: knovichikhin/pyemv tests/test_tlv.py test_decode_exception (inputs), plus the forms EMV forbids
  it.each([
    ['9F', 'truncated_tag'],
    ['9FF0', 'truncated_tag'],
    ['9C', 'truncated_length'],
    ['9C81', 'truncated_length'],
    ['9C8200', 'truncated_length'],
    ['9C01', 'truncated_value'],
    ['9C0200', 'truncated_value'],
    ['E001', 'truncated_value'],
    ['E0019F0001FF', 'truncated_tag'],
    ['E0019C01FF', 'truncated_length'],
    ['E0039C8101C001FF', 'truncated_value'],
    ['9C01FFAA', 'truncated_length'],
    ['9C80', 'bad_length'],
    ['9C8400000000', 'bad_length'],
    ['9FFFFFFF01', 'tag_too_long'],
    ['FF0100', 'bad_tag'],
  ])('%s raises TlvError(%s)', (hex, code) => {
    let caught: unknown;
    try {
      decodeTlv(fromHex(hex));
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(TlvError);
    expect((caught as TlvError).code).toBe(code);
  });

  it('rejects nesting deeper than the limit with TlvError', () => {
    let bytes: Uint8Array = fromHex('9C00');
    for (let i = 0; i < 40; i += 1) bytes = encodeTlv([{ tag: 'E0', value: bytes }]);
    expect(() => decodeTlv(bytes)).toThrow(TlvError);
  });
});

describe('encodeTlv: byte-exact table', () => {
  // Source: knovichikhin/pyemv tests/test_tlv.py test_encode
  const p = (tag: string, hex: string): Tlv => ({ tag, value: fromHex(hex) });
  const c = (tag: string, children: Tlv[]): Tlv => ({ tag, value: new Uint8Array(), children });
  it.each<[Tlv[], string]>([
    [[], ''],
    [[p('9C', '')], '9C00'],
    [[p('9C', 'FF')], '9C01FF'],
    [[p('9F00', 'FF')], '9F0001FF'],
    [[p('9F8001', 'FF')], '9F800101FF'],
    [[p('9C', 'FF'.repeat(128))], '9C8180' + 'FF'.repeat(128)],
    [[p('9C', 'FF'.repeat(511))], '9C8201FF' + 'FF'.repeat(511)],
    [[c('E0', [])], 'E000'],
    [[c('E0', [p('9C', '')])], 'E0029C00'],
    [[c('E0', [p('9F00', 'FF')]), p('9C', 'FF')], 'E0049F0001FF9C01FF'],
  ])('%#', (nodes, hex) => expect(toHex(encodeTlv(nodes))).toBe(hex.toUpperCase()));

  // Source: knovichikhin/pyemv tests/test_tlv.py test_encode_exception (tags)
  it.each(['XX', '00X', '0', '9F', '9F0001'])('bad tag %s raises TlvError', (tag) => {
    expect(() => encodeTlv([{ tag, value: new Uint8Array() }])).toThrow(TlvError);
  });
  it('children on a primitive tag raise TlvError', () => {
    expect(() => encodeTlv([c('9C', [])])).toThrow(TlvError);
  });
});

const tagArb = fc.oneof(
  fc
    .integer({ min: 1, max: 0x1e })
    .chain((low) => fc.constantFrom(0x40, 0x80, 0xc0, 0x00).map((cls) => cls | low))
    .map((b) => [b]),
  fc.tuple(fc.constantFrom(0x5f, 0x9f, 0xdf), fc.integer({ min: 0x01, max: 0x7f })).map(([a, b]) => [a, b]),
);
const hex = (bytes: number[]): string => Buffer.from(bytes).toString('hex').toUpperCase();
const primitiveArb: fc.Arbitrary<Tlv> = fc.record({
  tag: tagArb.map(hex),
  value: fc.uint8Array({ maxLength: 300 }),
});
const treeArb: fc.Arbitrary<Tlv[]> = fc.letrec<{ nodes: Tlv[]; node: Tlv }>((tie) => ({
  nodes: fc.array(tie('node'), { maxLength: 4 }),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    primitiveArb,
    fc.record({
      tag: fc.constantFrom('70', '77', 'A5', 'BF0C', 'E1'),
      value: fc.constant(new Uint8Array()),
      children: tie('nodes'),
    }),
  ),
})).nodes;

const strip = (nodes: Tlv[]): unknown =>
  nodes.map((n) =>
    n.children ? { tag: n.tag, children: strip(n.children) } : { tag: n.tag, value: toHex(n.value) },
  );

describe('TLV properties', () => {
  it('decode(encode(x)) = x', () => {
    fc.assert(
      fc.property(treeArb, (nodes) => {
        expect(strip(decodeTlv(encodeTlv(nodes)))).toEqual(strip(nodes));
      }),
    );
  });
  it('encode(decode(b)) = b for canonical encodings', () => {
    fc.assert(
      fc.property(treeArb, (nodes) => {
        const bytes = encodeTlv(nodes);
        expect(toHex(encodeTlv(decodeTlv(bytes)))).toBe(toHex(bytes));
      }),
    );
  });
  it('random bytes give a result or TlvError, nothing else', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        try {
          decodeTlv(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(TlvError);
        }
      }),
      { numRuns: 3000 },
    );
  });
  it('random bytes into parseDol give a result or TlvError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 60 }), (bytes) => {
        try {
          parseDol(bytes);
        } catch (e) {
          expect(e).toBeInstanceOf(TlvError);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('DOL', () => {
  // A typical contactless PDOL: 9F66 TTQ(4) 9F02 amount(6) 9F03(6) 9F1A(2) 95 TVR(5) 5F2A(2) 9A(3) 9C(1) 9F37 UN(4)
  const pdol = fromHex('9F66049F02069F03069F1A0295055F2A029A039C019F3704');
  it('parses tag/length pairs', () => {
    expect(parseDol(pdol)).toEqual([
      { tag: '9F66', length: 4 },
      { tag: '9F02', length: 6 },
      { tag: '9F03', length: 6 },
      { tag: '9F1A', length: 2 },
      { tag: '95', length: 5 },
      { tag: '5F2A', length: 2 },
      { tag: '9A', length: 3 },
      { tag: '9C', length: 1 },
      { tag: '9F37', length: 4 },
    ]);
  });
  it('builds DOL data: numeric left-padded, others right-padded / cut, absent = zeros', () => {
    const dol = parseDol(fromHex('9F02069F37045F2A029F4E04'));
    const data = buildDolData(dol, {
      '9F02': fromHex('1234'),
      '9F37': fromHex('0102030405'),
      '5F2A': fromHex('000978'),
      '9F4E': fromHex('41'),
    });
    expect(toHex(data)).toBe('000000001234' + '01020304' + '0978' + '41000000');
    expect(toHex(buildDolData(dol, new Map()))).toBe('00'.repeat(16));
    const back = splitDolData(dol, data);
    expect(toHex(back?.get('9F37') ?? new Uint8Array())).toBe('01020304');
    expect(splitDolData(dol, data.subarray(1))).toBeUndefined();
  });
});
