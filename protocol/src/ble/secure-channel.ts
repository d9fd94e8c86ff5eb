/**
 * The secure channel between phone and till, set up by Hello / HelloAck.
 *
 * Handshake: both sides send an ephemeral P-256 key and a 16-byte nonce. The till adds its
 * terminal certificate (acquirer CA), the authorization server's PIN-key certificate, the
 * unpredictable number, the merchant name and the amount, and signs the transcript hash with
 * its terminal key, and relays the card company's statement from the Challenge (the terminal is in
 * good standing now, and the UN is the one the card company issued). The phone checks both
 * certificates, the statement (pki/terminal-statement.ts) and the signature before anything else.
 * Keys: HKDF-SHA256(ECDH secret, salt = transcript hash, info = "bluetill/1 channel") → 64
 * bytes: phone→till key ‖ till→phone key (AES-256-GCM).
 *
 * Records: AES-GCM, nonce = direction (4 bytes) ‖ sequence number (8 bytes, big-endian). Each
 * side expects exactly the next sequence number: a replayed, reordered, dropped or forged
 * record fails and the channel is closed for good.
 */
import {
  ECDH,
  createCipheriv,
  createDecipheriv,
  createECDH,
  createHash,
  hkdfSync,
  randomBytes,
  type KeyObject,
} from 'node:crypto';
import type { Hello, HelloAck } from '../gen/bluetill/v1/ble';
import type { Money } from '../gen/bluetill/v1/common';
import { ProtocolError } from '../errors';
import { concatBytes, utf8 } from '../bytes';
import { verifyCertificate, signWith, verifyWith, type CertificateError } from '../pki/certificate';
import { verifyTerminalStatement, type TerminalStatementError } from '../pki/terminal-statement';
import type { CertificateBody } from '../gen/bluetill/v1/ble';

export const PROTOCOL_VERSION = 1;
const LABEL = 'bluetill/1';
const TAG_LENGTH = 16;

export type ChannelErrorCode =
  | 'bad_hello'
  | 'untrusted_terminal'
  | 'untrusted_pin_key'
  | 'untrusted_statement'
  | 'bad_signature'
  | 'bad_record'
  | 'out_of_order'
  | 'closed';
export class ChannelError extends ProtocolError<ChannelErrorCode> {}

type Direction = 'phone-to-till' | 'till-to-phone';
const DIRECTION_ID: Record<Direction, number> = { 'phone-to-till': 1, 'till-to-phone': 2 };

/** One direction-pair of AES-GCM keys with strict sequence numbers. */
export class SecureChannel {
  private sendSeq = 0n;
  private recvSeq = 0n;
  private dead = false;

  constructor(
    private readonly sendKey: Uint8Array,
    private readonly recvKey: Uint8Array,
    private readonly sendDirection: Direction,
    private readonly recvDirection: Direction,
  ) {}

  get closed(): boolean {
    return this.dead;
  }

  seal(plaintext: Uint8Array): { seq: number; ciphertext: Uint8Array } {
    if (this.dead) throw new ChannelError('closed', 'secure channel is closed');
    const seq = this.sendSeq++;
    const cipher = createCipheriv('aes-256-gcm', this.sendKey, nonce(this.sendDirection, seq), {
      authTagLength: TAG_LENGTH,
    });
    cipher.setAAD(aad(this.sendDirection, seq));
    const body = concatBytes(cipher.update(plaintext), cipher.final(), cipher.getAuthTag());
    return { seq: Number(seq), ciphertext: body };
  }

  open(record: { seq: number; ciphertext: Uint8Array }): Uint8Array {
    if (this.dead) throw new ChannelError('closed', 'secure channel is closed');
    const expected = this.recvSeq;
    if (BigInt(record.seq) !== expected) {
      this.dead = true;
      throw new ChannelError('out_of_order', `record ${record.seq} where ${expected} was due`);
    }
    if (record.ciphertext.length < TAG_LENGTH) {
      this.dead = true;
      throw new ChannelError('bad_record', 'record shorter than its tag');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.recvKey, nonce(this.recvDirection, expected), {
        authTagLength: TAG_LENGTH,
      });
      decipher.setAAD(aad(this.recvDirection, expected));
      decipher.setAuthTag(record.ciphertext.subarray(record.ciphertext.length - TAG_LENGTH));
      const plain = concatBytes(
        decipher.update(record.ciphertext.subarray(0, record.ciphertext.length - TAG_LENGTH)),
        decipher.final(),
      );
      this.recvSeq++;
      return plain;
    } catch (cause) {
      this.dead = true;
      throw new ChannelError('bad_record', 'record failed authentication', { cause });
    }
  }

  close(): void {
    this.dead = true;
  }
}

function nonce(direction: Direction, seq: bigint): Uint8Array {
  const n = Buffer.alloc(12);
  n.writeUInt32BE(DIRECTION_ID[direction], 0);
  n.writeBigUInt64BE(seq, 4);
  return n;
}

function aad(direction: Direction, seq: bigint): Uint8Array {
  return concatBytes(utf8(LABEL), nonce(direction, seq));
}

/** SHA-256 over every handshake field, each length-prefixed, so no field can slide into another. */
function transcriptHash(hello: Hello, ack: Omit<HelloAck, 'signature'>): Uint8Array {
  const h = createHash('sha256').update(LABEL);
  const field = (b: Uint8Array) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  };
  field(Buffer.from([hello.protocolVersion]));
  field(hello.ephemeralPublicKey);
  field(hello.nonce);
  field(ack.ephemeralPublicKey);
  field(ack.nonce);
  field(ack.terminalCertificate);
  field(utf8(ack.merchantName));
  field(ack.unpredictableNumber);
  field(ack.pinKeyCertificate);
  field(utf8(`${ack.amount?.minor ?? 0} ${ack.amount?.currency ?? ''}`));
  field(ack.terminalStatement);
  // Offline (the UN is the till's own): signed, so no relay can turn an online session offline.
  if (ack.offline) field(utf8('offline'));
  return new Uint8Array(h.digest());
}

function deriveKeys(secret: Uint8Array, transcript: Uint8Array): { p2t: Uint8Array; t2p: Uint8Array } {
  const okm = new Uint8Array(hkdfSync('sha256', secret, transcript, utf8(`${LABEL} channel`), 64));
  return { p2t: okm.subarray(0, 32), t2p: okm.subarray(32, 64) };
}

function ecdhSecret(ecdh: ReturnType<typeof createECDH>, peer: Uint8Array): Uint8Array {
  if (peer.length !== 65 || peer[0] !== 0x04)
    throw new ChannelError('bad_hello', 'ephemeral key is not an uncompressed P-256 point');
  try {
    return new Uint8Array(ecdh.computeSecret(peer));
  } catch (cause) {
    throw new ChannelError('bad_hello', 'ephemeral key is not on P-256', { cause });
  }
}

// ---- phone side -------------------------------------------------------------------------

export interface PhoneHandshake {
  readonly hello: Hello;
  /** Verifies the till and derives the channel. Throws ChannelError before any card data can leave. */
  finish(ack: HelloAck, trust: PhoneTrust): PhoneHandshakeResult;
}

export interface PhoneTrust {
  /** Acquirer CA: signs terminal certificates. */
  readonly acquirerCa: KeyObject;
  /** Card company root: signs the authorization server's PIN-key certificate and the key of the terminal statement. */
  readonly cardCompanyRoot: KeyObject;
  readonly now: number;
}

export interface PhoneHandshakeResult {
  readonly channel: SecureChannel;
  readonly terminal: CertificateBody;
  /** The authorization server's PIN key; null offline (only the card can check a PIN then). */
  readonly pinKey: CertificateBody | null;
  readonly unpredictableNumber: Uint8Array;
  readonly amount: Money | undefined;
  /**
   * The till cannot reach the card company (signed in the transcript): its UN is its own and no
   * statement of the card company vouches for it now; the card must decide (a TC with CDA), and the
   * phone gets the till's own signed word until the card company confirms.
   */
  readonly offline: boolean;
}

export function startPhoneHandshake(): PhoneHandshake {
  const ecdh = createECDH('prime256v1');
  const hello: Hello = {
    protocolVersion: PROTOCOL_VERSION,
    ephemeralPublicKey: new Uint8Array(ecdh.generateKeys()),
    nonce: new Uint8Array(randomBytes(16)),
  };
  return {
    hello,
    finish(ack, trust) {
      let terminal: CertificateBody;
      let pinKey: CertificateBody | null = null;
      try {
        terminal = verifyCertificate(ack.terminalCertificate, trust.acquirerCa, {
          role: 'terminal',
          now: trust.now,
        });
      } catch (cause) {
        throw new ChannelError(
          'untrusted_terminal',
          `terminal certificate refused (${(cause as CertificateError).code ?? 'error'})`,
          { cause },
        );
      }
      if (!ack.offline)
        try {
          pinKey = verifyCertificate(ack.pinKeyCertificate, trust.cardCompanyRoot, {
            role: 'pin-key',
            now: trust.now,
          });
        } catch (cause) {
          throw new ChannelError(
            'untrusted_pin_key',
            `PIN-key certificate refused (${(cause as CertificateError).code ?? 'error'})`,
            { cause },
          );
        }
      if (terminal.merchantName !== ack.merchantName)
        throw new ChannelError('untrusted_terminal', 'merchant name differs from the certificate');
      if (ack.nonce.length !== 16 || ack.unpredictableNumber.length !== 4)
        throw new ChannelError('bad_hello', 'HelloAck nonce or UN has the wrong size');
      // Offline there is no statement to check: the card decides, and the card company checks the
      // terminal again when the sale is forwarded (a revoked till's forward is refused).
      if (!ack.offline)
        try {
          verifyTerminalStatement(ack.terminalStatement, trust.cardCompanyRoot, {
            terminalId: terminal.subjectId,
            unpredictableNumber: ack.unpredictableNumber,
            now: trust.now,
          });
        } catch (cause) {
          throw new ChannelError(
            'untrusted_statement',
            `the card company does not vouch for this terminal now (${(cause as TerminalStatementError).code ?? 'error'})`,
            { cause },
          );
        }
      const transcript = transcriptHash(hello, ack);
      if (!verifyWith(terminal.publicKey, transcript, ack.signature))
        throw new ChannelError('bad_signature', 'HelloAck not signed by the terminal key');
      const keys = deriveKeys(ecdhSecret(ecdh, ack.ephemeralPublicKey), transcript);
      return {
        channel: new SecureChannel(keys.p2t, keys.t2p, 'phone-to-till', 'till-to-phone'),
        terminal,
        pinKey,
        unpredictableNumber: ack.unpredictableNumber,
        amount: ack.amount,
        offline: ack.offline,
      };
    },
  };
}

// ---- till side --------------------------------------------------------------------------

export interface TillIdentity {
  readonly terminalKey: KeyObject;
  readonly terminalCertificate: Uint8Array;
  readonly merchantName: string;
}

/**
 * Checks a Hello before the till spends anything on it (a backend Challenge, a basket): protocol
 * version, nonce length, and that the ephemeral key is an uncompressed point on P-256.
 * Throws ChannelError('bad_hello').
 */
export function checkHello(hello: Hello): void {
  if (hello.protocolVersion !== PROTOCOL_VERSION)
    throw new ChannelError('bad_hello', `protocol version ${hello.protocolVersion} not supported`);
  if (hello.nonce.length !== 16) throw new ChannelError('bad_hello', 'Hello nonce must be 16 bytes');
  const key = hello.ephemeralPublicKey;
  if (key.length !== 65 || key[0] !== 0x04)
    throw new ChannelError('bad_hello', 'ephemeral key is not an uncompressed P-256 point');
  try {
    ECDH.convertKey(key, 'prime256v1', undefined, undefined, 'uncompressed');
  } catch (cause) {
    throw new ChannelError('bad_hello', 'ephemeral key is not on P-256', { cause });
  }
}

export function acceptHello(
  hello: Hello,
  identity: TillIdentity,
  session: {
    unpredictableNumber: Uint8Array;
    pinKeyCertificate: Uint8Array;
    terminalStatement: Uint8Array;
    amount?: Money;
    /** The card company is unreachable: the UN is the till's own, the phone asks the card for a TC. */
    offline?: boolean;
  },
): { ack: HelloAck; channel: SecureChannel } {
  checkHello(hello);
  const ecdh = createECDH('prime256v1');
  const unsigned: Omit<HelloAck, 'signature'> = {
    ephemeralPublicKey: new Uint8Array(ecdh.generateKeys()),
    nonce: new Uint8Array(randomBytes(16)),
    terminalCertificate: identity.terminalCertificate,
    merchantName: identity.merchantName,
    unpredictableNumber: session.unpredictableNumber,
    pinKeyCertificate: session.pinKeyCertificate,
    amount: session.amount,
    terminalStatement: session.terminalStatement,
    offline: session.offline ?? false,
  };
  const secret = ecdhSecret(ecdh, hello.ephemeralPublicKey);
  const transcript = transcriptHash(hello, unsigned);
  const keys = deriveKeys(secret, transcript);
  const ack: HelloAck = { ...unsigned, signature: signWith(identity.terminalKey, transcript) };
  return { ack, channel: new SecureChannel(keys.t2p, keys.p2t, 'till-to-phone', 'phone-to-till') };
}
