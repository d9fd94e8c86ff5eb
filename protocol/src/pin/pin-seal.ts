/**
 * Seals a PIN to the authorization server's PIN key: the phone makes an ISO 9564 format-4 block
 * and encrypts it so that only the holder of the PIN private key can open it. The till relays
 * ciphertext it cannot read.
 *
 *   e        = fresh P-256 key pair (phone)
 *   secret   = ECDH(e, PIN public key)
 *   K4 ‖ Kg ‖ iv = HKDF-SHA256(secret, salt = e.pub, info = "bluetill/1 pin seal", 16 + 32 + 12)
 *   block    = format-4 encipherment of PIN and PAN under K4 (AES-128)
 *   sealed   = AES-256-GCM(Kg, iv, block, aad = context)
 *
 * `context` binds the seal to one payment session (unpredictable number and terminal id), so a
 * sealed PIN recorded in one session cannot be replayed in another.
 */
import {
  createCipheriv,
  createDecipheriv,
  createECDH,
  hkdfSync,
  type ECDH,
  type KeyObject,
} from 'node:crypto';
import { SealedPinBlock } from '../gen/bluetill/v1/ble';
import { ProtocolError } from '../errors';
import { concatBytes, utf8 } from '../bytes';
import { publicKeyFromRaw } from '../pki/keys';
import { decipherPinBlock4, encipherPinBlock4, panField4, readPinField4 } from './pin-block';

export class PinSealError extends ProtocolError<'malformed' | 'unsealed_failed'> {}

/** HKDF's info for a PIN seal. */
const SEAL_INFO = utf8('bluetill/1 pin seal');

function keys(secret: Uint8Array, ephemeral: Uint8Array) {
  const okm = new Uint8Array(hkdfSync('sha256', secret, ephemeral, SEAL_INFO, 60));
  return { k4: okm.subarray(0, 16), kg: okm.subarray(16, 48), iv: okm.subarray(48, 60) };
}

/**
 * ECDH with a P-256 private key that stays where it is: `agree(Q)` is the x-coordinate of d·Q (32
 * bytes) for an uncompressed point Q, and throws for a point that is not on P-256. A key store
 * gives one for its PIN key (software, a native binding, an HSM); `keyAgreementOf` makes one from a
 * KeyObject with Node's crypto.
 */
export interface KeyAgreement {
  agree(point: Uint8Array): Uint8Array;
  /**
   * Optional: the whole opening of a sealed PIN in one step, for a key store that does it faster
   * (a native binding) or where the key lives (an HSM), by exactly the steps above: agreement with
   * `ephemeralPublicKey`, HKDF-SHA256 (salt = that key, `info`), AES-256-GCM opening of
   * `ciphertext` (16-byte block ‖ 16-byte tag, aad = `context`), format-4 decipherment with
   * `panField`. Returns the plaintext PIN field (16 bytes); throws when the seal does not open.
   */
  openPinField?(sealed: {
    readonly ephemeralPublicKey: Uint8Array;
    readonly ciphertext: Uint8Array;
    readonly context: Uint8Array;
    readonly info: Uint8Array;
    readonly panField: Uint8Array;
  }): Uint8Array;
}

/** The scalar d of a P-256 private key (32 bytes; for a key agreement that takes it raw). */
export function p256PrivateScalar(privateKey: KeyObject): Uint8Array {
  const d = privateKey.export({ format: 'jwk' }).d;
  if (privateKey.asymmetricKeyDetails?.namedCurve !== 'prime256v1' || typeof d !== 'string')
    throw new TypeError('the PIN key must be a P-256 private key');
  return new Uint8Array(Buffer.from(d, 'base64url'));
}

/**
 * Node's ECDH with `privateKey`, its ECDH object made once per key: computeSecret on a raw point
 * costs about half of importing the point as a KeyObject and calling diffieHellman. It
 * refuses a point that is not on P-256 (ERR_CRYPTO_ECDH_INVALID_PUBLIC_KEY). Each call also
 * re-checks the key pair (a second scalar multiplication, ~50 µs): the backend uses its native
 * binding instead when it is built (backend/native).
 */
const agreementByKey = new WeakMap<KeyObject, KeyAgreement>();
export function keyAgreementOf(privateKey: KeyObject): KeyAgreement {
  let agreement = agreementByKey.get(privateKey);
  if (!agreement) {
    const ecdh: ECDH = createECDH('prime256v1');
    ecdh.setPrivateKey(p256PrivateScalar(privateKey));
    agreement = { agree: (point) => new Uint8Array(ecdh.computeSecret(point)) };
    agreementByKey.set(privateKey, agreement);
  }
  return agreement;
}

/** Only a 65-byte uncompressed point, as the wire format says (publicKeyFromRaw's rule). */
function checkedPoint(raw: Uint8Array): Uint8Array {
  if (raw.length !== 65 || raw[0] !== 0x04)
    throw new PinSealError('malformed', 'ephemeral key is not an uncompressed P-256 point');
  return raw;
}

export function sealPin(args: {
  pin: string;
  pan: string;
  pinKey: Uint8Array;
  pinKeyId: string;
  context: Uint8Array;
}): Uint8Array {
  const ecdh = createECDH('prime256v1');
  const ephemeral = new Uint8Array(ecdh.generateKeys());
  publicKeyFromRaw(args.pinKey);
  const k = keys(new Uint8Array(ecdh.computeSecret(args.pinKey)), ephemeral);
  const block = encipherPinBlock4(k.k4, args.pin, args.pan);
  const gcm = createCipheriv('aes-256-gcm', k.kg, k.iv);
  gcm.setAAD(args.context);
  const ciphertext = concatBytes(gcm.update(block), gcm.final(), gcm.getAuthTag());
  return SealedPinBlock.encode({
    ephemeralPublicKey: ephemeral,
    ciphertext,
    pinKeyId: args.pinKeyId,
  }).finish();
}

/**
 * Opens a sealed PIN with the PIN private key, or a key agreement with it (a key store's); returns
 * the PIN (server side only).
 */
export function openSealedPin(
  sealed: Uint8Array,
  args: { pinPrivateKey: KeyObject | KeyAgreement; pan: string; context: Uint8Array },
): string {
  let msg: SealedPinBlock;
  try {
    msg = SealedPinBlock.decode(sealed);
  } catch (cause) {
    throw new PinSealError('malformed', 'sealed PIN block does not decode', { cause });
  }
  if (msg.ciphertext.length !== 32)
    throw new PinSealError('malformed', 'sealed PIN block has the wrong size');
  try {
    const agreement = 'agree' in args.pinPrivateKey ? args.pinPrivateKey : keyAgreementOf(args.pinPrivateKey);
    const point = checkedPoint(msg.ephemeralPublicKey);
    if (agreement.openPinField) {
      const panField = panField4(args.pan);
      return readPinField4(
        agreement.openPinField({
          ephemeralPublicKey: point,
          ciphertext: msg.ciphertext,
          context: args.context,
          info: SEAL_INFO,
          panField,
        }),
      );
    }
    const k = keys(agreement.agree(point), point);
    const gcm = createDecipheriv('aes-256-gcm', k.kg, k.iv);
    gcm.setAAD(args.context);
    gcm.setAuthTag(msg.ciphertext.subarray(16));
    const block = concatBytes(gcm.update(msg.ciphertext.subarray(0, 16)), gcm.final());
    return decipherPinBlock4(k.k4, block, args.pan);
  } catch (cause) {
    throw new PinSealError('unsealed_failed', 'sealed PIN block could not be opened', { cause });
  }
}

/** The context a PIN seal is bound to: unpredictable number ‖ terminal id. */
export const pinSealContext = (unpredictableNumber: Uint8Array, terminalId: string): Uint8Array =>
  concatBytes(unpredictableNumber, utf8(terminalId));
