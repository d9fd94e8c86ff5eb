/**
 * The card's timing model against the published figures it is calibrated on (OpenFare, "IsoDep
 * Transceive Times": a tap's transceive time 215-740 ms, 315-325 ms for new cards, the phone's
 * reader 100-120 ms more, a whole tap 250-800 ms), summed over a recorded tap of the bluetill card
 * (phone-agent's transcript fixture: SELECT PPSE to GENERATE AC), and the parts of the model.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  airTimeMs,
  CARD_PROFILES,
  contactTimeMs,
  cardProfileFromEnv,
  cardTimingProfile,
  commandTimeMs,
  processingMs,
  TimedCard,
  type CardProfileName,
} from './card-timing';

const transcript = readFileSync(
  resolve(import.meta.dirname, '../../../phone-agent/src/core/card/fixtures/bluetill-card.transcript'),
  'utf8',
).split('\n');
const tap: Array<[Uint8Array, Uint8Array]> = transcript.flatMap((line, i) =>
  line.startsWith('=> ')
    ? [
        [Buffer.from(line.slice(3), 'hex'), Buffer.from(transcript[i + 1]!.slice(3), 'hex')] as [
          Uint8Array,
          Uint8Array,
        ],
      ]
    : [],
);
const tapMs = (name: CardProfileName, phoneReader: boolean) =>
  tap.reduce((sum, [c, r]) => sum + commandTimeMs(cardTimingProfile(name), c, r, { phoneReader }), 0);

describe('card timing: a whole tap against the published figures', () => {
  it('the recorded tap is SELECT PPSE to GENERATE AC: eleven commands', () => {
    expect(tap.map(([c]) => c[1]!.toString(16))).toEqual([
      'a4',
      'a4',
      'a8',
      'b2',
      'b2',
      'b2',
      'b2',
      'b2',
      'b2',
      '88',
      'ae',
    ]);
  });

  it.each(['fast', 'typical', 'slow'] as const)(
    '%s: transceive 215-740 ms, with the phone reader 250-800 ms, the reader adding 100-120 ms',
    (name) => {
      const card = tapMs(name, false);
      const phone = tapMs(name, true);
      expect(card).toBeGreaterThanOrEqual(215);
      expect(card).toBeLessThanOrEqual(740);
      expect(phone).toBeGreaterThanOrEqual(250);
      expect(phone).toBeLessThanOrEqual(800);
      expect(phone - card).toBeGreaterThanOrEqual(100);
      expect(phone - card).toBeLessThanOrEqual(120);
    },
  );

  it('fast is a newly issued card: 315-325 ms of transceive; the profiles are ordered', () => {
    expect(tapMs('fast', false)).toBeGreaterThanOrEqual(315);
    expect(tapMs('fast', false)).toBeLessThanOrEqual(325);
    expect(tapMs('fast', false)).toBeLessThan(tapMs('typical', false));
    expect(tapMs('typical', false)).toBeLessThan(tapMs('slow', false));
  });

  it('instant takes no time at all', () => {
    expect(tapMs('instant', true)).toBe(0);
  });
});

describe('card timing: the parts', () => {
  it('air time: 9 bits a byte with PCB and CRC, start and end of frame, chained above the frame size (ISO/IEC 14443-3/-4)', () => {
    expect(airTimeMs(10, 106)).toBeCloseTo(((10 + 3) * 9 + 2) / 106, 6);
    expect(airTimeMs(253, 106)).toBeCloseTo(((253 + 3) * 9 + 2) / 106, 6); // one full frame
    // two blocks and an R(ACK) between them: three frames
    expect(airTimeMs(254, 106)).toBeCloseTo(((254 + 6 + 3) * 9 + 3 * 2) / 106, 6);
    expect(airTimeMs(100, 848)).toBeCloseTo(airTimeMs(100, 106) / 8, 6);
    // Type B: 10-bit characters, a 12-etu SOF and a 10-etu EOF
    expect(airTimeMs(10, 106, 'B')).toBeCloseTo(((10 + 3) * 10 + 22) / 106, 6);
  });

  it('contact T=1: 12 etu a byte, NAD PCB LEN and LRC a block, chained above IFSC 254 (ISO/IEC 7816-3)', () => {
    expect(contactTimeMs(10, 9_600)).toBeCloseTo(((10 + 4) * 12 * 1000) / 9_600, 6);
    expect(contactTimeMs(254, 9_600)).toBeCloseTo(((254 + 4) * 12 * 1000) / 9_600, 6);
    expect(contactTimeMs(255, 9_600)).toBeCloseTo(((255 + 8 + 4) * 12 * 1000) / 9_600, 6);
    const p = cardTimingProfile('slow');
    const select = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x02, 0xa0, 0x00, 0x00]);
    const ok = Uint8Array.from([0x90, 0x00]);
    // A contact card is not in the phone's NFC reader: its stack adds nothing.
    expect(commandTimeMs(p, select, ok, { phoneReader: true, transport: 'contact' })).toBeCloseTo(
      contactTimeMs(select.length, p.contactBitPerS) +
        contactTimeMs(ok.length, p.contactBitPerS) +
        p.turnaroundMs +
        p.processingMs.select,
      6,
    );
  });

  it('EXTERNAL AUTHENTICATE, VERIFY and GET CHALLENGE each cost their own processing', () => {
    const p = cardTimingProfile('typical');
    const ok = Uint8Array.from([0x90, 0x00]);
    expect(processingMs(p, Uint8Array.from([0x00, 0x82, 0x00, 0x00, 0x08, ...new Uint8Array(8)]), ok)).toBe(
      p.processingMs.externalAuthenticate,
    );
    expect(processingMs(p, Uint8Array.from([0x00, 0x20, 0x00, 0x80, 0x08, ...new Uint8Array(8)]), ok)).toBe(
      p.processingMs.verify,
    );
    expect(processingMs(p, Uint8Array.from([0x00, 0x84, 0x00, 0x00, 0x08]), ok)).toBe(p.processingMs.other);
  });

  it('an RSA signature costs by the key the response shows: 2,048 bits four times 1,024', () => {
    const p = cardTimingProfile('typical');
    const internalAuthenticate = Uint8Array.from([0x00, 0x88, 0x00, 0x00, 0x04, 1, 2, 3, 4, 0x00]);
    const signed = (bytes: number) =>
      Uint8Array.from([
        0x77,
        0x82,
        (bytes + 4) >> 8,
        (bytes + 4) & 0xff,
        0x9f,
        0x4b,
        0x82,
        bytes >> 8,
        bytes & 0xff,
        ...new Uint8Array(bytes),
        0x90,
        0x00,
      ]);
    const base = processingMs(p, internalAuthenticate, Uint8Array.from([0x6a, 0x81]));
    expect(processingMs(p, internalAuthenticate, signed(128)) - base).toBeCloseTo(p.processingMs.rsa1024, 6);
    expect(processingMs(p, internalAuthenticate, signed(256)) - base).toBeCloseTo(
      4 * p.processingMs.rsa1024,
      6,
    );
    // a GENERATE AC with CDA signs; one without does not
    const generateAc = Uint8Array.from([0x80, 0xae, 0x80, 0x00, 0x01, 0x00, 0x00]);
    expect(processingMs(p, generateAc, signed(128))).toBeCloseTo(
      p.processingMs.generateAc + p.processingMs.rsa1024,
      6,
    );
    expect(processingMs(p, generateAc, Uint8Array.from([0x90, 0x00]))).toBe(p.processingMs.generateAc);
  });

  it("TimedCard answers what the card answers and reports each command's time", () => {
    const answers = new Map([
      [0xa4, Uint8Array.from([0x6f, 0x00, 0x90, 0x00])],
      [0xb2, Uint8Array.from([0x70, 0x00, 0x90, 0x00])],
    ]);
    const card = {
      powerOn: () => Uint8Array.from([0x3b, 0x00]),
      powerOff: () => undefined,
      process: (c: Uint8Array) => answers.get(c[1]!) ?? Uint8Array.from([0x6d, 0x00]),
    };
    const timed = new TimedCard(card, 'slow', { phoneReader: false });
    expect(timed.powerOn()).toEqual(Uint8Array.from([0x3b, 0x00]));
    expect(timed.lastCommandMs()).toBe(0);
    const select = Uint8Array.from([0x00, 0xa4, 0x04, 0x00, 0x02, 0xa0, 0x00, 0x00]);
    expect(timed.process(select)).toEqual(answers.get(0xa4));
    expect(timed.lastCommandMs()).toBeCloseTo(
      commandTimeMs(cardTimingProfile('slow'), select, answers.get(0xa4)!, { phoneReader: false }),
      6,
    );
    const inPhone = new TimedCard(card, 'slow'); // a phone's reader by default: its NFC stack's time added
    inPhone.process(select);
    expect(inPhone.lastCommandMs() - timed.lastCommandMs()).toBeCloseTo(
      cardTimingProfile('slow').phoneReaderMs,
      6,
    );
    expect(() => cardTimingProfile('medium' as CardProfileName)).toThrow(
      /unknown card profile medium: one of instant, fast, typical, slow/,
    );
    expect(CARD_PROFILES).toEqual(['instant', 'fast', 'typical', 'slow']);
  });
});

describe('the card profile of the demo, the playground and the benchmarks', () => {
  it('typical unless BLUETILL_CARD_PROFILE names another; a name that is no profile is refused', () => {
    expect(cardProfileFromEnv({})).toBe('typical');
    expect(cardProfileFromEnv({ BLUETILL_CARD_PROFILE: '' })).toBe('typical');
    expect(cardProfileFromEnv({ BLUETILL_CARD_PROFILE: 'slow' })).toBe('slow');
    expect(() => cardProfileFromEnv({ BLUETILL_CARD_PROFILE: 'quick' })).toThrow(
      'BLUETILL_CARD_PROFILE must be one of instant, fast, typical, slow, got "quick"',
    );
  });
});
