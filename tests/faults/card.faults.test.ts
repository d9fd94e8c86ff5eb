/**
 * The card side of the phone under garbage: BER-TLV, DOLs, command and response APDUs, and the
 * whole card-reading flow against a MALICIOUS card — a CardReader that answers each command with
 * the real card's answer, a mutation of it, random bytes, a wrong status word, a huge length, a
 * truncated TLV, or a reader failure. Only TlvError / ApduError from the parsers and
 * CardReadError from the flow may escape (the reader's own CardReaderError is wrapped by the
 * flow); every run ends within a time bound.
 */
import { readFileSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  ApduError,
  TlvError,
  decodeCommandApdu,
  decodeResponseApdu,
  decodeTlv,
  encodeTlv,
  parseDol,
  type Tlv,
} from '@bluetill/protocol';
import {
  CardReadError,
  CardReaderError,
  generateCryptogram,
  readCard,
  verifyOfflinePin,
  type CardReader,
  type TransactionData,
} from '@bluetill/phone-agent';
import { Tally, SOAK, bytes, cases, hex, mutation, params, timeout } from './support';

/** FAULTS_KNOWN_BUGS=1 runs the known-bug tests and stops tolerating the known bugs in the random runs. */
// The bugs this suite found are fixed: strict by default (FAULTS_KNOWN_BUGS=0 tolerates them again).
const KNOWN_BUGS = process.env.FAULTS_KNOWN_BUGS !== '0';
let apduEscapes = 0;
const tlvTally = new Tally('tlv');
const apduTally = new Tally('apdu');
const cardTally = new Tally('malicious_card');
afterAll(() => {
  tlvTally.print();
  apduTally.print();
  cardTally.print({
    slowestRunMs: Math.round(slowest),
    budgetMs: RUN_BUDGET_MS,
    knownBugApduEscapes: apduEscapes,
  });
});

// ---- BER-TLV and DOLs -----------------------------------------------------------------------

/** TLV-shaped garbage: random bytes, nested constructed templates, lengths in every form. */
const tlvish: fc.Arbitrary<Uint8Array> = fc.oneof(
  bytes(400),
  fc
    .array(
      fc.tuple(
        fc.constantFrom(0x6f, 0x70, 0x77, 0xa5, 0xbf, 0x9f, 0x5f, 0x1f, 0x80, 0xe1, 0x00),
        fc.constantFrom(0x0c, 0x38, 0x81, 0x82, 0x83, 0x84, 0x80, 0x7f, 0x01),
        fc.uint8Array({ maxLength: 20 }),
      ),
      { maxLength: 10 },
    )
    .map((parts) => Uint8Array.from(parts.flatMap(([a, b, c]) => [a, b, ...c]))),
  fc.nat(40).map((depth) => {
    // depth nested E1 templates around one primitive: the decoder must stop at MAX_TLV_DEPTH
    let inner: Uint8Array = Uint8Array.of(0x5a, 0x01, 0x99);
    for (let i = 0; i < depth; i++) inner = encodeTlv([{ tag: 'E1', value: inner }]);
    return inner;
  }),
);

const tlvTree: fc.Arbitrary<Tlv[]> = fc.letrec<{ node: Tlv; nodes: Tlv[] }>((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(
        fc.constantFrom('5A', '9F26', '50', '5F20', '9F4B', '87', '1F8101'),
        fc.uint8Array({ maxLength: 300 }),
      )
      .map(([tag, value]): Tlv => ({ tag, value })),
    fc
      .tuple(fc.constantFrom('70', '77', 'A5', 'BF0C', '61', 'E1'), tie('nodes'))
      .map(([tag, children]): Tlv => ({ tag, value: new Uint8Array(0), children: children as Tlv[] })),
  ),
  nodes: fc.array(tie('node') as fc.Arbitrary<Tlv>, { maxLength: 4 }),
})).nodes;

/** Drops the raw `value` of constructed nodes (decoding fills it with the encoded children). */
const shape = (nodes: readonly Tlv[]): unknown =>
  nodes.map((n) =>
    n.children ? { tag: n.tag, children: shape(n.children) } : { tag: n.tag, value: hex(n.value) },
  );

describe('BER-TLV', () => {
  it(
    'decodeTlv and parseDol on random bytes: a result or TlvError, nothing else',
    () => {
      const property = fc.property(tlvish, (b) => {
        tlvTally.cases++;
        for (const f of [decodeTlv, parseDol]) {
          try {
            f(b);
          } catch (error) {
            if (!tlvTally.typed(error, [TlvError])) throw error;
          }
        }
      });
      fc.assert(property, params(cases(5_000)));
    },
    timeout(),
  );

  it(
    'decodeTlv(encodeTlv(x)) = x, and any mutation of the encoding is a result or TlvError',
    () => {
      const property = fc.property(
        tlvTree.chain((nodes) => {
          const enc = encodeTlv(nodes);
          return fc.tuple(fc.constant(nodes), fc.constant(enc), mutation(enc));
        }),
        ([nodes, enc, mutated]) => {
          tlvTally.cases++;
          expect(shape(decodeTlv(enc))).toEqual(shape(nodes));
          try {
            decodeTlv(mutated);
          } catch (error) {
            if (!tlvTally.typed(error, [TlvError])) throw error;
          }
        },
      );
      fc.assert(property, params(cases(1_500, 200_000)));
    },
    timeout(),
  );
});

describe('APDUs', () => {
  it(
    'decodeCommandApdu and decodeResponseApdu on random bytes: a result or ApduError',
    () => {
      const property = fc.property(bytes(300), (b) => {
        apduTally.cases++;
        try {
          const r = decodeResponseApdu(b);
          expect(r.sw).toBeLessThanOrEqual(0xffff);
          expect(r.data.length).toBe(b.length - 2);
        } catch (error) {
          if (!apduTally.typed(error, [ApduError])) throw error;
        }
        try {
          const c = decodeCommandApdu(b);
          expect(c.data.length).toBeLessThanOrEqual(255);
        } catch (error) {
          if (!apduTally.typed(error, [ApduError])) throw error;
        }
      });
      fc.assert(property, params(cases(5_000)));
    },
    timeout(),
  );
});

// ---- the malicious card ---------------------------------------------------------------------

/** The real card's conversation (recorded from the simulated card), as command hex → response. */
const TRANSCRIPT = readFileSync(
  new URL('../../phone-agent/src/core/card/fixtures/bluetill-card.transcript', import.meta.url),
  'utf8',
);
const HONEST = new Map<string, Uint8Array>();
{
  let command = '';
  for (const line of TRANSCRIPT.split('\n')) {
    const m = /^(=>|<=)\s*([0-9A-Fa-f]+)\s*$/.exec(line.trim());
    if (!m) continue;
    if (m[1] === '=>') command = m[2]!.toUpperCase();
    else HONEST.set(command, new Uint8Array(Buffer.from(m[2]!, 'hex')));
  }
}
const tx: TransactionData = {
  amount: 1250n,
  currency: 978,
  country: 276,
  unpredictableNumber: Uint8Array.from([0xa1, 0xb2, 0xc3, 0xd4]),
  date: new Date('2026-11-24T12:00:00Z'),
};

type Answer =
  | { kind: 'honest' }
  | { kind: 'mutate'; pick: number; seed: Uint8Array }
  | { kind: 'random'; bytes: Uint8Array }
  | { kind: 'sw'; sw: number }
  | { kind: 'huge'; tag: number; len: number; body: Uint8Array }
  | { kind: 'truncate'; keep: number }
  | { kind: 'throw'; code: 'card_removed' | 'transmit_failed' | 'weird' };

const SWS = [
  0x9000, 0x6a82, 0x6a83, 0x6985, 0x6700, 0x6c10, 0x6110, 0x63c0, 0x63c2, 0x6983, 0x9001, 0x0000, 0xffff,
  0x6d00,
];
const answer: fc.Arbitrary<Answer> = fc.oneof(
  { weight: 14, arbitrary: fc.constant<Answer>({ kind: 'honest' }) },
  {
    weight: 3,
    arbitrary: fc
      .tuple(fc.nat(), fc.uint8Array({ minLength: 8, maxLength: 8 }))
      .map(([pick, seed]): Answer => ({ kind: 'mutate', pick, seed })),
  },
  { weight: 1, arbitrary: bytes(260).map((b): Answer => ({ kind: 'random', bytes: b })) },
  { weight: 1, arbitrary: fc.constantFrom(...SWS).map((sw): Answer => ({ kind: 'sw', sw })) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(
        fc.constantFrom(0x6f, 0x70, 0x77, 0x80, 0x5a),
        fc.constantFrom(0xff, 0xffff, 0xffffff, 0x7fffffff),
        fc.uint8Array({ maxLength: 30 }),
      )
      .map(([tag, len, body]): Answer => ({ kind: 'huge', tag, len, body })),
  },
  { weight: 1, arbitrary: fc.nat(300).map((keep): Answer => ({ kind: 'truncate', keep })) },
  {
    weight: 1,
    arbitrary: fc
      .constantFrom('card_removed', 'transmit_failed', 'weird')
      .map((code): Answer => ({ kind: 'throw', code: code as 'card_removed' })),
  },
);

/** What the card says to `command` under `a` (the honest answer when the command is one the real card knows, else 6D00). */
function respond(command: Uint8Array, a: Answer): Uint8Array {
  const honest = HONEST.get(hex(command)) ?? Uint8Array.of(0x6d, 0x00);
  switch (a.kind) {
    case 'honest':
      return honest;
    case 'mutate': {
      // a small deterministic mutation of the honest answer, picked by the seed
      const out = Uint8Array.from(honest);
      const s = a.seed;
      const at = ((s[0]! << 8) | s[1]!) % Math.max(1, out.length);
      switch (a.pick % 5) {
        case 0:
          if (out.length) out[at]! ^= 1 << (s[2]! & 7);
          return out;
        case 1:
          if (out.length) out[at] = [0x81, 0x82, 0x83, 0x84, 0xff, 0x00, 0x7f, 0x80][s[3]! & 7]!;
          return out;
        case 2:
          return Uint8Array.from([...out.subarray(0, Math.max(0, out.length - 2 - (s[4]! % 8))), 0x90, 0x00]);
        case 3:
          return Uint8Array.from([
            ...out.subarray(0, out.length - 2),
            ...s.subarray(0, s[5]! % 8),
            0x90,
            0x00,
          ]);
        default:
          return Uint8Array.from([...out.subarray(0, at), ...s, ...out.subarray(at)]);
      }
    }
    case 'random':
      return a.bytes;
    case 'sw':
      return Uint8Array.from([...honest.subarray(0, Math.max(0, honest.length - 2)), a.sw >> 8, a.sw & 0xff]);
    case 'huge': {
      const len =
        a.len <= 0xff
          ? [0x81, a.len]
          : a.len <= 0xffff
            ? [0x82, a.len >> 8, a.len & 0xff]
            : a.len <= 0xffffff
              ? [0x83, a.len >> 16, (a.len >> 8) & 0xff, a.len & 0xff]
              : [0x84, 0x7f, 0xff, 0xff, 0xff];
      return Uint8Array.from([a.tag, ...len, ...a.body, 0x90, 0x00]);
    }
    case 'truncate':
      return honest.slice(0, Math.min(a.keep, honest.length));
    case 'throw':
      throw a.code === 'weird'
        ? new Error('reader driver blew up')
        : new CardReaderError(a.code, 'fake reader failure');
  }
}

/** A CardReader that plays the malicious card: answer i to command i (honest once the script runs out). */
class MaliciousCard implements CardReader {
  exchanges = 0;
  constructor(private readonly script: readonly Answer[]) {}
  async waitForCard(): Promise<{ atr: Uint8Array }> {
    return { atr: Uint8Array.of(0x3b, 0x80, 0x80, 0x01, 0x01) };
  }
  async transmit(command: Uint8Array): Promise<Uint8Array> {
    const a = this.script[this.exchanges++] ?? { kind: 'honest' };
    if (this.exchanges > 200) throw new Error('the phone keeps talking to the card: a loop');
    return respond(command, a);
  }
  async close(): Promise<void> {}
}

/** Time one run may take (read + GENERATE AC + VERIFY). */
const RUN_BUDGET_MS = 2_000;
let slowest = 0;

async function bounded<T>(p: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const t0 = performance.now();
  try {
    return await Promise.race([
      p,
      new Promise<never>(
        (_, reject) =>
          (timer = setTimeout(
            () => reject(new Error(`card run took over ${RUN_BUDGET_MS} ms (hang)`)),
            RUN_BUDGET_MS,
          )),
      ),
    ]);
  } finally {
    clearTimeout(timer);
    slowest = Math.max(slowest, performance.now() - t0);
  }
}

describe('the card-reading flow against a malicious card', () => {
  it('sanity: the honest card reads and gives an ARQC', async () => {
    const card = new MaliciousCard([]);
    const read = await readCard(card, tx);
    expect(read.pan).toBe('9990010000000017');
    const c = await generateCryptogram(card, read, tx);
    expect(c.arqc?.length).toBe(8);
  });

  it(
    'readCard, generateCryptogram, verifyOfflinePin: a result or CardReadError, within the time bound',
    async () => {
      const outcomes = new Map<string, number>();
      const property = fc.asyncProperty(
        fc.array(answer, { minLength: 1, maxLength: 14 }),
        fc.boolean(),
        async (script, withPin) => {
          cardTally.cases++;
          const card = new MaliciousCard(script);
          const run = async (): Promise<string> => {
            const read = await readCard(card, tx);
            await generateCryptogram(card, read, tx);
            if (withPin) await verifyOfflinePin(card, '1234');
            return 'read';
          };
          let outcome: string;
          try {
            outcome = await bounded(run());
          } catch (error) {
            if (!KNOWN_BUGS && error instanceof ApduError && error.code === 'extended_length') {
              // known bug (see "known bugs" below): a DDOL/CDOL1 asking for > 255 bytes lets ApduError escape
              apduEscapes++;
              outcome = 'known_bug_apdu_escape';
            } else {
              if (!cardTally.typed(error, [CardReadError])) throw error;
              outcome = (error as CardReadError).code;
            }
          }
          outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        },
      );
      await fc.assert(property, params(cases(1_500)));
      // the generator reaches both ends: some runs read the card, most fail cleanly (not checked when replaying one counterexample)
      if (!process.env.FC_PATH) {
        expect(outcomes.get('read') ?? 0).toBeGreaterThan(0);
        expect(outcomes.get('malformed_response') ?? 0).toBeGreaterThan(0);
      }
    },
    timeout(SOAK ? undefined : 40_000),
  );
});

// ---- known bug, found by this suite: a DOL length bomb --------------------------------------

/**
 * A 254-byte SELECT AID answer whose PDOL asks 47 times for tag 5A with length 0xFFFFFF: the
 * phone builds the PDOL data (47 × 16 MiB, then concatenates them) before its 127-byte check, so
 * one short APDU costs ~0.8-1.6 GB and seconds. The same path serves the DDOL (9F49, before
 * INTERNAL AUTHENTICATE) and CDOL1 (8C, GENERATE AC). Kept off in `make test` because it would
 * fail (and may run the worker out of memory) until protocol's buildDolData / the flow cap the
 * DOL's total length before allocating. Run it with FAULTS_KNOWN_BUGS=1.
 */
const PDOL_BOMB_FCI = '6F81FB8407A0000009990101A581EF9F3881EB' + '5A83FFFFFF'.repeat(47) + '9000';

describe('found by this suite, fixed', () => {
  it.skipIf(!KNOWN_BUGS)(
    'was a bug — DOL length bomb: a PDOL of 47 × (5A 83FFFFFF) is refused fast and small',
    async () => {
      let i = 0;
      const ppse = HONEST.get('00A404000E325041592E5359532E444446303100')!;
      const card: CardReader = {
        waitForCard: async () => ({ atr: new Uint8Array(0) }),
        transmit: async () => (i++ === 0 ? ppse : new Uint8Array(Buffer.from(PDOL_BOMB_FCI, 'hex'))),
        close: async () => undefined,
      };
      const rss0 = process.memoryUsage().rss;
      const t0 = performance.now();
      const error = await readCard(card, tx).catch((e: unknown) => e);
      const ms = performance.now() - t0;
      const grewMb = (process.memoryUsage().rss - rss0) / 1e6;
      expect(error).toBeInstanceOf(CardReadError);
      expect(ms, `took ${Math.round(ms)} ms`).toBeLessThan(100);
      expect(grewMb, `RSS grew ${Math.round(grewMb)} MB`).toBeLessThan(64);
    },
    60_000,
  );
});

/**
 * Found by the malicious-card soak (seed 486341697, path "40587:13:11:23:27:26:36:34:26:26:26:26:23:25:22:23"):
 * a DOL that asks for more than 255 bytes makes the command builder throw ApduError('extended_length'),
 * which escapes readCard (DDOL → INTERNAL AUTHENTICATE) and generateCryptogram (CDOL1 → GENERATE AC)
 * instead of CardReadError('malformed_response'). The random runs count these as
 * `knownBugApduEscapes` instead of failing, unless FAULTS_KNOWN_BUGS=1.
 */
const record = (over: Record<string, string>): CardReader => ({
  waitForCard: async () => ({ atr: new Uint8Array(0) }),
  transmit: async (c) =>
    new Uint8Array(Buffer.from(over[hex(c)] ?? hex(HONEST.get(hex(c)) ?? Uint8Array.of(0x6d, 0x00)), 'hex')),
  close: async () => undefined,
});
/** SFI 1 record 1 with CDOL1 entry 9F02 given the length 83 9F0306 (10,420,998 bytes). */
const CDOL1_OVER_255 =
  '7057570F9990010000000017D301220100000F5A0899900100000000175F24033012315F3401018C189F02839F03069F1A0295055F2A029A039C019F37049F34038E0C0000000000000000420301039F49039F37049F4A01829000';
/** SFI 1 record 1 with DDOL 9F49 = 9F37 82 0100 (256 bytes). */
const DDOL_OVER_255 =
  '7059570F9990010000000017D301220100000F5A0899900100000000175F24033012315F3401018C189F02069F03069F1A0295055F2A029A039C019F37049F34038E0C0000000000000000420301039F49059F378201009F4A01829000';

describe('found by this suite, fixed: ApduError escapes the card flow', () => {
  it.skipIf(!KNOWN_BUGS)(
    'was a bug — a DDOL asking for 256 bytes: readCard throws CardReadError, not ApduError',
    async () => {
      const error = await readCard(record({ '00B2010C00': DDOL_OVER_255 }), tx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CardReadError);
    },
  );
  it.skipIf(!KNOWN_BUGS)(
    'was a bug — a CDOL1 asking for 10 MB: generateCryptogram throws CardReadError, not ApduError',
    async () => {
      const card = record({ '00B2010C00': CDOL1_OVER_255 });
      const read = await readCard(card, tx);
      const error = await generateCryptogram(card, read, tx).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(CardReadError);
    },
  );
});
