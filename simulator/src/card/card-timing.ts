/**
 * How long a real card takes: the simulated card answers at once, a real card does not. The model
 * gives each command APDU the time a card and its link would take, from the command and the card's
 * response alone, so that it applies whatever carries the APDUs (the phone's in-process reader, or
 * pcscd through vpcd):
 *
 *   time = transport (the bytes on the link with their framing, at the profile's bit rate)
 *          + frame turnaround + the card's processing of this command
 *          (+ the phone's own NFC stack, for a phone's reader).
 *
 * Transport, contactless (ISO/IEC 14443, the default): 106, 212, 424 or 848 kbit/s. Type A sends
 * each byte as 8 data bits and a parity bit, a frame between a start and an end of communication
 * (1 bit each) [3]; Type B sends each byte as a 10-bit character (start, 8 data bits, stop) in a
 * frame between a 12-13 etu SOF and a 10-11 etu EOF [5]. ISO/IEC 14443-4 puts each APDU in I-blocks
 * (PCB and a 2-byte CRC) of at most FSD bytes, chaining longer ones with an R(ACK) between blocks [3].
 * A card whose processing outlasts the frame waiting time asks for more with S(WTX) blocks: a few
 * bytes each, left out. Contact (ISO/IEC 7816-3 T=1): each byte a 10-bit character plus a 2-etu
 * guard time, 12 etu [6]; the etu is 372/f at reset (9,600 bit/s), faster once the card's TA1 is
 * taken (TA1 95: ~112 kbit/s, 96: ~223 kbit/s) [7]; each block has a 3-byte prologue (NAD, PCB,
 * LEN), at most IFSC (254) information bytes and a 1-byte LRC [8].
 *
 * Processing: SELECT, GET PROCESSING OPTIONS, READ RECORD and VERIFY are file and EEPROM work;
 * GENERATE AC computes a MAC and writes the ATC; EXTERNAL AUTHENTICATE checks the issuer's MAC and
 * writes its counters; INTERNAL AUTHENTICATE (DDA) and GENERATE AC with CDA sign with the card's
 * RSA key, whose size the response shows (the signed dynamic data, tag 9F4B, is as long as the
 * modulus). An RSA private-key operation on a card's coprocessor takes ~30 ms at 1,024 bits and
 * 50-200 ms at 2,048 [2]; the model scales it with the square of the key size from the profile's
 * 1,024-bit figure.
 *
 * Profiles, calibrated on a whole tap of the bluetill card (SELECT PPSE, SELECT AID, GPO, six READ
 * RECORDs, INTERNAL AUTHENTICATE, GENERATE AC; the test sums it) against published measurements [1]:
 * a tap's card and radio time (Android's IsoDep transceive) is 215-740 ms, 315-325 ms for newly
 * issued cards, and a phone's reader adds 100-120 ms; a whole tap takes 250-800 ms. The recommended
 * contactless transaction time is 500 ms and most take 330-637 ms [4].
 *   fast     a newly issued card at 424 kbit/s: ~320 ms on the card and the air
 *   typical  at 212 kbit/s: ~480 ms
 *   slow     an old card at 106 kbit/s: ~680 ms
 *   instant  no time at all: unit tests
 *
 * [1] OpenFare, "IsoDep Transceive Times" (wwopenfare.com/isodep-transceive-times; measured with NFC
 *     EMV Explorer on Android: overall tap 250-800 ms; transceive 215-740 ms; reader component
 *     100-120 ms; new cards 315-325 ms).
 * [2] Smart card RSA coprocessor timings: RSA-1024 ~30 ms, RSA-2048 50-200 ms (smartcardfyi
 *     glossary, "RSA").
 * [3] ISO/IEC 14443-3 Type A: each byte on air is 8 data bits and a parity bit; ISO/IEC 14443-4:
 *     an I-block adds a PCB byte and a 2-byte CRC; a frame larger than FSD (256 by default here)
 *     is chained, each further block acknowledged by an R-block.
 * [4] security.stackexchange.com, "Are there any transaction time constraints in EMV contact and
 *     contactless cards?" (questions/240146): 500 ms recommended, most 330-637 ms.
 * [5] STMicroelectronics CRX14 datasheet (ISO 14443 Type B coupler), "Answer start of frame" and
 *     "Request Frame Character Format": SOF 10-11 etu of 0 and 2 of 1, EOF 10-11 etu, characters of
 *     a start bit, 8 data bits and a stop bit.
 * [6] ISO/IEC 7816-3 character frame (microissuer.com, "ATR"): a start bit, 8 data bits, a parity
 *     bit; at least 12 etu between the leading edges of two characters; the initial etu is 372/f.
 * [7] ISO7816-3 ATR and baud rate examples (miaokee.com/1257150): TA1 11 (the default) 9,600 bit/s,
 *     95 112,000, 96 223,000.
 * [8] ETSI TS 102 221 ATR examples (tech-invite.com): T=1 with TA3 FE, "IFSC is 254 bytes long".
 */

export type CardProfileName = 'instant' | 'fast' | 'typical' | 'slow';
export const CARD_PROFILES: readonly CardProfileName[] = ['instant', 'fast', 'typical', 'slow'];

export interface CardTimingProfile {
  readonly name: CardProfileName;
  /** ISO/IEC 14443 bit rate, kbit/s (106, 212, 424 or 848). */
  readonly kbitPerS: 106 | 212 | 424 | 848;
  /** Contact (ISO/IEC 7816-3 T=1): the bit rate after the card's TA1 is taken, bit/s [7]. */
  readonly contactBitPerS: number;
  /** Per command: frame delay times, the reader's turnaround and the card's start-up of a command. */
  readonly turnaroundMs: number;
  /** The card's own processing, by command. */
  readonly processingMs: {
    readonly select: number;
    readonly gpo: number;
    readonly readRecord: number;
    readonly generateAc: number;
    readonly verify: number;
    readonly externalAuthenticate: number;
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
    contactBitPerS: 223_000,
    turnaroundMs: 0,
    processingMs: {
      select: 0,
      gpo: 0,
      readRecord: 0,
      generateAc: 0,
      verify: 0,
      externalAuthenticate: 0,
      other: 0,
      rsa1024: 0,
    },
    phoneReaderMs: 0,
  },
  fast: {
    name: 'fast',
    kbitPerS: 424,
    contactBitPerS: 223_000,
    turnaroundMs: 6,
    processingMs: {
      select: 9,
      gpo: 36,
      readRecord: 15,
      generateAc: 68,
      verify: 20,
      externalAuthenticate: 20,
      other: 5,
      rsa1024: 30,
    },
    phoneReaderMs: 10,
  },
  typical: {
    name: 'typical',
    kbitPerS: 212,
    contactBitPerS: 112_000,
    turnaroundMs: 9,
    processingMs: {
      select: 12,
      gpo: 55,
      readRecord: 23,
      generateAc: 92,
      verify: 30,
      externalAuthenticate: 30,
      other: 8,
      rsa1024: 45,
    },
    phoneReaderMs: 10,
  },
  slow: {
    name: 'slow',
    kbitPerS: 106,
    contactBitPerS: 9_600,
    turnaroundMs: 12,
    processingMs: {
      select: 17,
      gpo: 72,
      readRecord: 32,
      generateAc: 129,
      verify: 40,
      externalAuthenticate: 40,
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

/**
 * The card profile the demo, the playground's phones and the benchmarks use: `BLUETILL_CARD_PROFILE`
 * if set, else `typical`. Throws on a name that is not a profile.
 */
export function cardProfileFromEnv(env: NodeJS.ProcessEnv = process.env): CardProfileName {
  const v = env.BLUETILL_CARD_PROFILE;
  if (v === undefined || v === '') return 'typical';
  if (!isCardProfileName(v))
    throw new Error(`BLUETILL_CARD_PROFILE must be one of ${CARD_PROFILES.join(', ')}, got "${v}"`);
  return v;
}

/** FSD/FSC: the largest frame either side takes (bytes, with its prologue and CRC) [3]. */
const FRAME_SIZE = 256;
const BLOCK_OVERHEAD = 3; // PCB + CRC
const R_BLOCK = 3; // an R(ACK) for a chained block: PCB + CRC

/** Type A and Type B on air: bits a byte, and the frame's own bits (start and end of frame) [3], [5]. */
const CONTACTLESS = {
  A: { bitsPerByte: 9, frameBits: 2 },
  B: { bitsPerByte: 10, frameBits: 12 + 10 },
} as const;

/** Milliseconds on air for one APDU of `n` bytes, framed and chained as ISO/IEC 14443-3/-4 do [3], [5]. */
export function airTimeMs(n: number, kbitPerS: number, type: 'A' | 'B' = 'A'): number {
  const { bitsPerByte, frameBits } = CONTACTLESS[type];
  const blocks = Math.max(1, Math.ceil(n / (FRAME_SIZE - BLOCK_OVERHEAD)));
  const frames = 2 * blocks - 1; // each block, and an R(ACK) after every block but the last
  const bytes = n + blocks * BLOCK_OVERHEAD + (blocks - 1) * R_BLOCK;
  return (bytes * bitsPerByte + frames * frameBits) / kbitPerS; // kbit/s = bits per ms
}

/** T=1 on the contacts: IFSC information bytes a block, 3 bytes of prologue and an LRC [6], [8]. */
const IFSC = 254;
const T1_PROLOGUE = 3;
const T1_EPILOGUE = 1;
const T1_R_BLOCK = T1_PROLOGUE + T1_EPILOGUE;
const ETU_PER_CHARACTER = 12; // 10-bit character and a 2-etu guard time [6]

/** Milliseconds on the contacts for one APDU of `n` bytes in T=1 blocks, chained above IFSC [6], [8]. */
export function contactTimeMs(n: number, bitPerS: number): number {
  const blocks = Math.max(1, Math.ceil(n / IFSC));
  const bytes = n + blocks * (T1_PROLOGUE + T1_EPILOGUE) + (blocks - 1) * T1_R_BLOCK;
  return (bytes * ETU_PER_CHARACTER * 1000) / bitPerS;
}

/** How the reader reaches the card: the air (ISO/IEC 14443, Type A or B) or the contacts (T=1). */
export type CardTransport = 'contactless' | 'contactless-b' | 'contact';

/** One APDU's bytes on the transport at the profile's bit rate. */
export function transportTimeMs(p: CardTimingProfile, n: number, transport: CardTransport): number {
  if (transport === 'contact') return contactTimeMs(n, p.contactBitPerS);
  return airTimeMs(n, p.kbitPerS, transport === 'contactless-b' ? 'B' : 'A');
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
    case 0x82:
      return p.processingMs.externalAuthenticate;
    case 0xae:
      return p.processingMs.generateAc + rsaMs(p, sdad); // CDA: the cryptogram signed
    case 0x20:
      return p.processingMs.verify;
    default: // GET CHALLENGE, GET DATA, STORE DATA, …: a few milliseconds of the card's CPU
      return p.processingMs.other;
  }
}

/**
 * One command's whole time: the transport both ways, turnaround, the card's processing, and (for a
 * phone's NFC reader) its stack. `transport` defaults to contactless Type A; a contact card is never
 * in a phone's NFC reader, so `phoneReader` adds nothing to it.
 */
export function commandTimeMs(
  p: CardTimingProfile,
  command: Uint8Array,
  response: Uint8Array,
  o: { phoneReader: boolean; transport?: CardTransport },
): number {
  if (p.name === 'instant') return 0;
  const transport = o.transport ?? 'contactless';
  return (
    transportTimeMs(p, command.length, transport) +
    transportTimeMs(p, response.length, transport) +
    p.turnaroundMs +
    processingMs(p, command, response) +
    (o.phoneReader && transport !== 'contact' ? p.phoneReaderMs : 0)
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
    private readonly o: { phoneReader: boolean; transport?: CardTransport } = { phoneReader: true },
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
