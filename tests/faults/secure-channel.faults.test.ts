/**
 * The secure channel under an active attacker on the link: random records, bit flips, replays,
 * reorders, drops and truncations. A record opens only if it is the untouched next record; the
 * first other one raises ChannelError and closes the channel for good (every later open raises
 * ChannelError('closed')). What does open is exactly what was sealed, in order.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { ChannelError, SecureChannel } from '@bluetill/protocol';
import { Tally, cases, hex, params, timeout } from './support';

const tally = new Tally('secure_channel');
afterAll(() => tally.print());

type Rec = { seq: number; ciphertext: Uint8Array };

type Op =
  | { kind: 'next' }
  | { kind: 'flip'; bit: number }
  | { kind: 'truncate'; keep: number }
  | { kind: 'replay'; back: number }
  | { kind: 'swap' }
  | { kind: 'drop' }
  | { kind: 'forge'; seq: number; ciphertext: Uint8Array }
  | { kind: 'reseq'; delta: number };

const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 8, arbitrary: fc.constant<Op>({ kind: 'next' }) },
  { weight: 1, arbitrary: fc.nat(4000).map((bit): Op => ({ kind: 'flip', bit })) },
  { weight: 1, arbitrary: fc.nat(64).map((keep): Op => ({ kind: 'truncate', keep })) },
  { weight: 1, arbitrary: fc.nat(5).map((back): Op => ({ kind: 'replay', back })) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'swap' }) },
  { weight: 1, arbitrary: fc.constant<Op>({ kind: 'drop' }) },
  {
    weight: 1,
    arbitrary: fc
      .tuple(fc.oneof(fc.nat(20), fc.maxSafeNat()), fc.uint8Array({ maxLength: 80 }))
      .map(([seq, ciphertext]): Op => ({ kind: 'forge', seq, ciphertext })),
  },
  {
    weight: 1,
    arbitrary: fc
      .integer({ min: -3, max: 3 })
      .filter((d) => d !== 0)
      .map((delta): Op => ({ kind: 'reseq', delta })),
  },
);

function pair(): { tillSide: SecureChannel; phoneSide: SecureChannel } {
  const p2t = new Uint8Array(randomBytes(32));
  const t2p = new Uint8Array(randomBytes(32));
  return {
    tillSide: new SecureChannel(t2p, p2t, 'till-to-phone', 'phone-to-till'),
    phoneSide: new SecureChannel(p2t, t2p, 'phone-to-till', 'till-to-phone'),
  };
}

describe('SecureChannel.open under a tampering link', () => {
  it(
    'opens only the untouched next record; anything else is ChannelError and the channel stays closed',
    () => {
      const property = fc.property(
        fc.array(fc.uint8Array({ maxLength: 200 }), { minLength: 1, maxLength: 12 }),
        fc.array(op, { minLength: 1, maxLength: 24 }),
        (plaintexts, ops) => {
          tally.cases++;
          const { tillSide, phoneSide } = pair();
          const sent: Rec[] = plaintexts.map((p) => phoneSide.seal(p));
          const delivered: Rec[] = [];
          let cursor = 0;
          for (const o of ops) {
            const nextRec = sent[cursor];
            switch (o.kind) {
              case 'next':
                if (nextRec) {
                  delivered.push(nextRec);
                  cursor++;
                }
                break;
              case 'flip':
                if (nextRec && nextRec.ciphertext.length > 0) {
                  const c = Uint8Array.from(nextRec.ciphertext);
                  const bit = o.bit % (c.length * 8);
                  c[bit >> 3]! ^= 1 << (bit & 7);
                  delivered.push({ seq: nextRec.seq, ciphertext: c });
                  cursor++;
                }
                break;
              case 'truncate':
                if (nextRec) {
                  delivered.push({
                    seq: nextRec.seq,
                    ciphertext: nextRec.ciphertext.slice(0, Math.min(o.keep, nextRec.ciphertext.length - 1)),
                  });
                  cursor++;
                }
                break;
              case 'replay': {
                const old = delivered[delivered.length - 1 - o.back];
                if (old) delivered.push(old);
                break;
              }
              case 'swap':
                if (sent[cursor] && sent[cursor + 1]) {
                  delivered.push(sent[cursor + 1]!, sent[cursor]!);
                  cursor += 2;
                }
                break;
              case 'drop':
                if (nextRec) cursor++;
                break;
              case 'forge':
                delivered.push({ seq: o.seq, ciphertext: o.ciphertext });
                break;
              case 'reseq':
                if (nextRec && nextRec.seq + o.delta >= 0) {
                  delivered.push({ seq: nextRec.seq + o.delta, ciphertext: nextRec.ciphertext });
                  cursor++;
                }
                break;
            }
          }
          let expected = 0;
          let dead = false;
          for (const rec of delivered) {
            const pristine = sent[expected];
            const shouldOpen =
              !dead &&
              pristine !== undefined &&
              rec.seq === pristine.seq &&
              hex(rec.ciphertext) === hex(pristine.ciphertext);
            try {
              const plain = tillSide.open(rec);
              expect(shouldOpen, `opened a tampered record (seq ${rec.seq}, ${hex(rec.ciphertext)})`).toBe(
                true,
              );
              expect(hex(plain)).toBe(hex(plaintexts[expected]!));
              expected++;
            } catch (error) {
              if (!tally.typed(error, [ChannelError])) throw error;
              expect(shouldOpen, `refused the untouched record ${rec.seq}`).toBe(false);
              if (dead) expect((error as ChannelError).code).toBe('closed');
              dead = true;
              expect(tillSide.closed).toBe(true);
            }
          }
          // sealing after the channel died is refused too
          if (dead) expect(() => tillSide.seal(new Uint8Array(1))).toThrow(ChannelError);
        },
      );
      fc.assert(property, params(cases(1_500)));
    },
    timeout(),
  );

  it(
    'fresh channel: any random record (seq, bytes) is ChannelError and closes it',
    () => {
      const property = fc.property(
        fc.oneof(fc.nat(3), fc.maxSafeNat()),
        fc.uint8Array({ maxLength: 120 }),
        (seq, ciphertext) => {
          tally.cases++;
          const { tillSide: ch } = pair();
          try {
            ch.open({ seq, ciphertext });
            expect.unreachable('a random record opened');
          } catch (error) {
            if (!tally.typed(error, [ChannelError])) throw error;
          }
          expect(ch.closed).toBe(true);
          expect(() => ch.open({ seq: 0, ciphertext: new Uint8Array(16) })).toThrow(ChannelError);
        },
      );
      fc.assert(property, params(cases(3_000)));
    },
    timeout(),
  );
});
