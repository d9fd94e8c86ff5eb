/** BleMessage encode/decode with one typed error for anything that is not a well-formed message. */
import { BleMessage } from '../gen/bluetill/v1/ble';
import { ProtocolError } from '../errors';

export class MessageError extends ProtocolError<'malformed' | 'empty'> {}

export type BleBody = NonNullable<BleMessage['body']>;
export type BleCase = BleBody['$case'];

export const encodeMessage = (body: BleBody): Uint8Array => BleMessage.encode({ body }).finish();

export function decodeMessage(bytes: Uint8Array): BleBody {
  let msg: BleMessage;
  try {
    msg = BleMessage.decode(bytes);
  } catch (cause) {
    throw new MessageError('malformed', 'BLE message does not decode', { cause });
  }
  if (!msg.body) throw new MessageError('empty', 'BLE message has no body');
  return msg.body;
}
