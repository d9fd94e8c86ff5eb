/** Receipt verification on the phone and at the till: the settlement server's signature, its key certified by the root. */
import type { KeyObject } from 'node:crypto';
import { Receipt, type SignedReceipt } from './gen/bluetill/v1/common';
import { verifyCertificate, verifyWith } from './pki/certificate';
import { ProtocolError } from './errors';

export class ReceiptError extends ProtocolError<'bad_certificate' | 'bad_signature' | 'malformed'> {}

export function verifyReceipt(signed: SignedReceipt, cardCompanyRoot: KeyObject, now: number): Receipt {
  let keyCert;
  try {
    keyCert = verifyCertificate(signed.certificate, cardCompanyRoot, { role: 'receipt', now });
  } catch (cause) {
    throw new ReceiptError('bad_certificate', 'receipt key not certified by the card company', { cause });
  }
  if (!verifyWith(keyCert.publicKey, signed.receipt, signed.signature)) throw new ReceiptError('bad_signature', 'receipt signature invalid');
  try {
    return Receipt.decode(signed.receipt);
  } catch (cause) {
    throw new ReceiptError('malformed', 'receipt does not decode', { cause });
  }
}
