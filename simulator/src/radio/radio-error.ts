/** Failures of the virtual LE controller that a caller can act on. */
export type RadioErrorCode =
  'pty_open_failed' | 'device_exists' | 'unknown_device' | 'radio_closed' | 'bad_shaping' | 'host_exited';

export class RadioError extends Error {
  override readonly name = 'RadioError';
  constructor(
    readonly code: RadioErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
