/**
 * The till's own signed word to the phone for a sale it approved offline: "approved offline, to
 * be confirmed by the card company". Signed with the till's terminal key, the key of the terminal
 * certificate the phone already checked in the HelloAck (acquirer CA), under a label of its own so
 * that no other message of that key (the handshake signature) can pass for one. It is the till's
 * promise, not the card company's: the phone shows it as such until the card company's signed
 * receipt for `offline_id` can be fetched.
 */
import type { KeyObject } from 'node:crypto';
import type { Item, Money } from '../gen/bluetill/v1/common';
import type { SignedOfflineReceipt } from '../gen/bluetill/v1/ble';
import { OfflineReceipt } from '../gen/bluetill/v1/ble';
import { ProtocolError } from '../errors';
import { signWith, verifyWith } from './certificate';

export const OFFLINE_RECEIPT_STATUS = 'approved offline, to be confirmed by the card company';

/**
 * Every offline id starts with this (`OFF-<terminal>-…`, made by the till's offline desk), and no
 * online terminal transaction id does: the two share the card company's settlement ids, and a
 * question about an online payment (Shopper.GetOutcome) must never be able to close an offline one.
 */
export const OFFLINE_ID_PREFIX = 'OFF-';

export const isOfflineId = (id: string): boolean => id.startsWith(OFFLINE_ID_PREFIX);

export class OfflineReceiptError extends ProtocolError<'malformed' | 'bad_signature' | 'wrong_terminal'> {}

const LABEL = Buffer.from('bluetill offline receipt v1\0', 'latin1');

/** The bytes signed: the label, then the encoded OfflineReceipt. */
export function offlineReceiptSignedBytes(receipt: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([LABEL, receipt]));
}

export function signOfflineReceipt(
  r: {
    readonly terminalId: string;
    readonly offlineId: string;
    readonly merchantName: string;
    readonly maskedPan: string;
    readonly items: readonly Item[];
    readonly total: Money;
    readonly atc: number;
    readonly approvedAtMs: number;
  },
  terminalKey: KeyObject,
): SignedOfflineReceipt {
  const receipt = OfflineReceipt.encode({
    ...r,
    items: [...r.items],
    status: OFFLINE_RECEIPT_STATUS,
  }).finish();
  return { receipt, signature: signWith(terminalKey, offlineReceiptSignedBytes(receipt)) };
}

/**
 * The phone's check: the signature under the till's terminal public key (from the certificate the
 * phone verified in the HelloAck), the terminal id of that certificate, and the status words.
 * Throws OfflineReceiptError.
 */
export function verifyOfflineReceipt(
  signed: SignedOfflineReceipt,
  till: { readonly terminalId: string; readonly publicKey: Uint8Array },
): OfflineReceipt {
  if (!verifyWith(till.publicKey, offlineReceiptSignedBytes(signed.receipt), signed.signature))
    throw new OfflineReceiptError('bad_signature', 'offline receipt not signed by this till');
  let r: OfflineReceipt;
  try {
    r = OfflineReceipt.decode(signed.receipt);
  } catch (cause) {
    throw new OfflineReceiptError('malformed', 'offline receipt does not decode', { cause });
  }
  if (r.status !== OFFLINE_RECEIPT_STATUS || !r.total || r.offlineId.length === 0)
    throw new OfflineReceiptError('malformed', 'offline receipt incomplete');
  if (r.terminalId !== till.terminalId)
    throw new OfflineReceiptError('wrong_terminal', 'offline receipt names another terminal');
  return r;
}
