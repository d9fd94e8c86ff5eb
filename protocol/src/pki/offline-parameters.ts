/**
 * The card company's offline parameters for one terminal (OfflineParameters): the floor limit, the
 * terminal's offline exposure, the per-card daily count and amount, and the block list. The
 * authorization server signs them with the receipt key (certified by the card company root) under
 * its own label; the till checks them before it keeps a copy, and approves nothing offline without
 * a copy that is valid now.
 *
 * The block list carries no card number: each entry is SHA-256(salt ‖ PAN "/" PSN) under a salt
 * drawn for each issue, so a copy on a till names no card by itself and two issues share no entry.
 * A holder of the list can still test a card number it already has against it (that is what the
 * till does); the salt only stops precomputed tables.
 */
import { createHash, timingSafeEqual, type KeyObject } from 'node:crypto';
import type { SignedOfflineParameters } from '../gen/bluetill/v1/settlement_network';
import { OfflineParameters } from '../gen/bluetill/v1/settlement_network';
import { ProtocolError } from '../errors';
import { verifyCertificate, verifyWith } from './certificate';

export type OfflineParametersErrorCode =
  | 'missing'
  | 'malformed'
  | 'bad_certificate'
  | 'bad_signature'
  | 'wrong_terminal'
  | 'expired'
  | 'not_yet_valid'
  | 'older_than_copy';
export class OfflineParametersError extends ProtocolError<OfflineParametersErrorCode> {}

/** How far the till's clock may be ahead of the card company's when it checks `issued_at`. */
export const OFFLINE_PARAMETERS_CLOCK_SKEW_MS = 5 * 60_000;
/** Salt length of a block list issue. */
export const BLOCK_LIST_SALT_BYTES = 16;

const LABEL = Buffer.from('bluetill offline parameters v1\0', 'latin1');

/** The bytes signed: the label (no other message of the receipt key passes for parameters), then the parameters. */
export function offlineParametersSignedBytes(parameters: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([LABEL, parameters]));
}

/** A card's entry on a block list issued with `salt`. */
export function blockListEntry(salt: Uint8Array, pan: string, psn: number): Uint8Array {
  return new Uint8Array(createHash('sha256').update(salt).update(`${pan}/${psn}`, 'latin1').digest());
}

/** Signs parameters (the card company's side); `signer` is ECDSA P-256 / SHA-256 with the key of `certificate`. */
export function signOfflineParameters(
  p: OfflineParameters,
  signer: { sign(data: Uint8Array): Uint8Array },
  certificate: Uint8Array,
): SignedOfflineParameters {
  const parameters = OfflineParameters.encode(p).finish();
  return { parameters, signature: signer.sign(offlineParametersSignedBytes(parameters)), certificate };
}

/**
 * The till's check: the key certified by the card company root, the signature, this terminal and
 * merchant, issued not after now (within the skew) and valid until after now, and not older than
 * the copy the till holds (`copyIssuedAtMs`; an equal issue time is the same copy fetched again).
 * Throws OfflineParametersError.
 */
export function verifyOfflineParameters(
  signed: SignedOfflineParameters,
  cardCompanyRoot: KeyObject,
  expected: { terminalId: string; merchantId: string; now: number; copyIssuedAtMs?: number },
): OfflineParameters {
  if (signed.parameters.length === 0)
    throw new OfflineParametersError('missing', 'no offline parameters from the card company');
  let p: OfflineParameters;
  try {
    p = OfflineParameters.decode(signed.parameters);
  } catch (cause) {
    throw new OfflineParametersError('malformed', 'offline parameters do not decode', { cause });
  }
  let key;
  try {
    key = verifyCertificate(signed.certificate, cardCompanyRoot, { role: 'receipt', now: expected.now });
  } catch (cause) {
    throw new OfflineParametersError('bad_certificate', 'parameters key not certified by the card company', {
      cause,
    });
  }
  if (!verifyWith(key.publicKey, offlineParametersSignedBytes(signed.parameters), signed.signature))
    throw new OfflineParametersError('bad_signature', 'offline parameters signature invalid');
  if (p.terminalId !== expected.terminalId || p.merchantId !== expected.merchantId)
    throw new OfflineParametersError('wrong_terminal', 'offline parameters are for another terminal');
  if (p.issuedAtMs > expected.now + OFFLINE_PARAMETERS_CLOCK_SKEW_MS)
    throw new OfflineParametersError('not_yet_valid', 'offline parameters issued in the future');
  if (p.validUntilMs <= expected.now || p.validUntilMs <= p.issuedAtMs)
    throw new OfflineParametersError('expired', 'offline parameters past their validity');
  if (expected.copyIssuedAtMs !== undefined && p.issuedAtMs < expected.copyIssuedAtMs)
    throw new OfflineParametersError('older_than_copy', 'offline parameters older than the copy held');
  if (p.blockListSalt.length !== BLOCK_LIST_SALT_BYTES || p.blockedCards.some((e) => e.length !== 32))
    throw new OfflineParametersError('malformed', 'block list salt or entries of the wrong size');
  return p;
}

/** Whether the card is on the parameters' block list. */
export function isBlocked(p: OfflineParameters, pan: string, psn: number): boolean {
  const entry = Buffer.from(blockListEntry(p.blockListSalt, pan, psn));
  return p.blockedCards.some((e) => e.length === entry.length && timingSafeEqual(Buffer.from(e), entry));
}
