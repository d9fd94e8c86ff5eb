/**
 * How long a real card takes: the simulated card answers at once, a real contactless card does not.
 * The model gives each command APDU the time a card and its radio link would take, from the
 * command and the card's response alone, so that it applies whatever carries the APDUs (the phone's
 * in-process reader, or pcscd through vpcd):
 *
 *   time = transport (bytes on air at the profile's bit rate, with ISO/IEC 14443-4 block framing
 *          and chaining) + frame turnaround + the card's processing of this command
 *          (+ the phone's own NFC stack, for a phone's reader).
 *
 * Processing: SELECT, GET PROCESSING OPTIONS, READ RECORD and VERIFY are file and EEPROM work;
 * GENERATE AC computes a MAC and writes the ATC; INTERNAL AUTHENTICATE (DDA) and GENERATE AC with
 * CDA sign with the card's RSA key, whose size the response shows (the signed dynamic data, tag
 * 9F4B, is as long as the modulus). An RSA private-key operation on a card's coprocessor takes
 * ~30 ms at 1,024 bits and 50-200 ms at 2,048 [2]; the model scales it with the square of the
 * key size from the profile's 1,024-bit figure.
 *
 * Profiles, calibrated on a whole tap of the bluetill card (SELECT PPSE, SELECT AID, GPO, six READ
 * RECORDs, INTERNAL AUTHENTICATE, GENERATE AC; the test sums it) against published measurements [1]:
 * a tap's card and radio time (Android's IsoDep transceive) is 215-740 ms, 315-325 ms for newly
 * issued cards, and a phone's reader adds 100-120 ms; a whole tap takes 250-800 ms.
 *   fast     a newly issued card at 424 kbit/s: ~320 ms on the card and the air
 *   typical  ~480 ms
 *   slow     an old card at 106 kbit/s: ~680 ms
 *   instant  no time at all: unit tests
 *
 * [1] OpenFare, "IsoDep Transceive Times" (measured with NFC EMV Explorer on Android: overall tap
 *     250-800 ms; transceive 215-740 ms; reader component 100-120 ms; new cards 315-325 ms).
 * [2] Smart card RSA coprocessor timings: RSA-1024 ~30 ms, RSA-2048 50-200 ms (smartcardfyi
 *     glossary, "RSA").
 * [3] ISO/IEC 14443-3 Type A: each byte on air is 8 data bits and a parity bit; ISO/IEC 14443-4:
 *     an I-block adds a PCB byte and a 2-byte CRC; a frame larger than FSD (256 by default here)
 *     is chained, each further block acknowledged by an R-block.
 */

export type CardProfileName = 'instant' | 'fast' | 'typical' | 'slow';
export const CARD_PROFILES: readonly CardProfileName[] = ['instant', 'fast', 'typical', 'slow'];

export interface CardTimingProfile {
  readonly name: CardProfileName;
  /** ISO/IEC 14443 bit rate, kbit/s (106, 212, 424 or 848). */
  readonly kbitPerS: 106 | 212 | 424 | 848;
  /** Per command: frame delay times, the reader's turnaround and the card's start-up of a command. */
  readonly turnaroundMs: number;
  /** The card's own processing, by command. */
  readonly processingMs: {
    readonly select: number;
    readonly gpo: number;
    readonly readRecord: number;
    readonly generateAc: number;
    readonly verify: number;
    readonly other: number;
    /** One RSA private-key operation with a 1,024-bit key (scaled by the square of the key size). */
    readonly rsa1024: number;
  };
  /** What a phone's NFC stack adds to each command (100-120 ms over a tap's eleven commands [1]). */
  readonly phoneReaderMs: number;
}

const PROFILES: Record<CardProfileName, CardTimingProfile> = {
  instant: {
    name: 'instant',
    kbitPerS: 848,
    turnaroundMs: 0,
    processingMs: { select: 0, gpo: 0, readRecord: 0, generateAc: 0, verify: 0, other: 0, rsa1024: 0 },
    phoneReaderMs: 0,
  },
  fast: {
    name: 'fast',
    kbitPerS: 424,
    turnaroundMs: 6,
    processingMs: { select: 9, gpo: 36, readRecord: 15, generateAc: 68, verify: 20, other: 5, rsa1024: 30 },
    phoneReaderMs: 10,
  },
  typical: {
    name: 'typical',
    kbitPerS: 212,
    turnaroundMs: 9,
    processingMs: { select: 12, gpo: 55, readRecord: 23, generateAc: 92, verify: 30, other: 8, rsa1024: 45 },
    phoneReaderMs: 10,
  },
  slow: {
    name: 'slow',
    kbitPerS: 106,
    turnaroundMs: 12,
    processingMs: {
      select: 17,
      gpo: 72,
      readRecord: 32,
      generateAc: 129,
      verify: 40,
      other: 10,
      rsa1024: 60,
    },
    phoneReaderMs: 10,
  },
};

export function cardTimingProfile(name: CardProfileName): CardTimingProfile {
  const p = PROFILES[name];
  if (!p) throw new Error(`unknown card profile ${String(name)}: one of ${CARD_PROFILES.join(', ')}`);
  return p;
}

export function isCardProfileName(v: string): v is CardProfileName {
  return (CARD_PROFILES as readonly string[]).includes(v);
}

/** FSD/FSC: the largest frame either side takes (bytes, with its prologue and CRC) [3]. */
const FRAME_SIZE = 256;
const BLOCK_OVERHEAD = 3; // PCB + CRC
const R_BLOCK = 3; // an R(ACK) for a chained block: PCB + CRC

/** Milliseconds on air for one APDU of `n` bytes, framed and chained as ISO/IEC 14443-4 does [3]. */
export function airTimeMs(n: number, kbitPerS: number): number {
  const blocks = Math.max(1, Math.ceil(n / (FRAME_SIZE - BLOCK_OVERHEAD)));
  const bytes = n + blocks * BLOCK_OVERHEAD + (blocks - 1) * R_BLOCK;
  return (bytes * 9) / kbitPerS; // 9 bits a byte; kbit/s = bits per ms
}

/** The length of the signed dynamic data (9F4B) in a response, 0 if none: it is the RSA modulus length. */
function signedDataLength(response: Uint8Array): number {
  for (let i = 0; i + 2 < response.length - 2; i++) {
    if (response[i] !== 0x9f || response[i + 1] !== 0x4b) continue;
    const first = response[i + 2]!;
    if (first < 0x80) return first;
    if (first === 0x81) return response[i + 3] ?? 0;
    if (first === 0x82) return ((response[i + 3] ?? 0) << 8) | (response[i + 4] ?? 0);
  }
  return 0;
}

const rsaMs = (p: CardTimingProfile, modulusBytes: number) =>
  modulusBytes === 0 ? 0 : p.processingMs.rsa1024 * ((modulusBytes * 8) / 1024) ** 2;

/** The card's processing of one command, by its CLA/INS (and the key the response shows it used). */
export function processingMs(p: CardTimingProfile, command: Uint8Array, response: Uint8Array): number {
  const ins = command[1];
  const sdad = signedDataLength(response);
  switch (ins) {
    case 0xa4:
      return p.processingMs.select;
    case 0xa8:
      return p.processingMs.gpo + rsaMs(p, sdad); // fDDA cards sign in GPO
    case 0xb2:
      return p.processingMs.readRecord;
    case 0x88:
      return p.processingMs.other + rsaMs(p, sdad);
    case 0xae:
      return p.processingMs.generateAc + rsaMs(p, sdad); // CDA: the cryptogram signed
    case 0x20:
      return p.processingMs.verify;
    default:
      return p.processingMs.other;
  }
}

/** One command's whole time: air both ways, turnaround, the card's processing, and (for a phone) its reader. */
export function commandTimeMs(
  p: CardTimingProfile,
  command: Uint8Array,
  response: Uint8Array,
  o: { phoneReader: boolean },
): number {
  if (p.name === 'instant') return 0;
  return (
    airTimeMs(command.length, p.kbitPerS) +
    airTimeMs(response.length, p.kbitPerS) +
    p.turnaroundMs +
    processingMs(p, command, response) +
    (o.phoneReader ? p.phoneReaderMs : 0)
  );
}

/** What the readers need of a card that takes time (structural: the phone's reader does not import the simulator). */
export interface TimedCardApplication {
  /** How long the last `process()` would have taken on a real card, in milliseconds. */
  lastCommandMs(): number;
}

/**
 * A card application that takes the time its profile says: `process()` still answers at once (the
 * card's logic is the simulated card's), and `lastCommandMs()` tells the reader how long to hold the
 * answer back. Power-on is not timed (the field's activation is part of the reader's discovery).
 */
export class TimedCard<
  C extends { powerOn(): Uint8Array; powerOff(): void; process(command: Uint8Array): Uint8Array },
> implements TimedCardApplication {
  private last = 0;
  readonly profile: CardTimingProfile;

  constructor(
    readonly card: C,
    profile: CardProfileName | CardTimingProfile,
    private readonly o: { phoneReader: boolean } = { phoneReader: true },
  ) {
    this.profile = typeof profile === 'string' ? cardTimingProfile(profile) : profile;
  }

  powerOn(): Uint8Array {
    this.last = 0;
    return this.card.powerOn();
  }

  powerOff(): void {
    this.card.powerOff();
  }

  process(command: Uint8Array): Uint8Array {
    const response = this.card.process(command);
    this.last = commandTimeMs(this.profile, command, response, this.o);
    return response;
  }

  lastCommandMs(): number {
    return this.last;
  }
}
