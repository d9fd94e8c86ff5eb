export type BlePeripheralErrorCode =
  'adapter_unavailable' | 'not_subscribed' | 'value_too_long' | 'disconnected' | 'not_started';

/** Expected failures of the bleno peripheral adapter. */
export class BlePeripheralError extends Error {
  override readonly name = 'BlePeripheralError';
  constructor(
    readonly code: BlePeripheralErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
