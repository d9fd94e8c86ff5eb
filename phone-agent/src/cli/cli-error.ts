import { EXIT, type ExitCode } from './exit-codes';

/** Why the CLI stops before or around a payment: a stable code, a message for the shopper, an exit code. */
export type CliErrorCode =
  | 'usage'
  | 'trust_file'
  | 'card_file'
  | 'pin_source'
  | 'secret_source'
  | 'fingerprint'
  | 'no_till'
  | 'ble_unavailable'
  | 'connect_failed';

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    readonly code: CliErrorCode,
    message: string,
    readonly exitCode: ExitCode,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  static usage(code: CliErrorCode, message: string, options?: { cause?: unknown }): CliError {
    return new CliError(code, message, EXIT.usage, options);
  }
}
