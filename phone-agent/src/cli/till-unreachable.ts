/** A payment that could not start (core's TillUnreachableError) as the CLI says it: a CliError, exit 4 (nothing charged). */
import { BleCentralError } from '../ports/ble-central';
import type { TillUnreachableError } from '../core/payment-session';
import { CliError } from './cli-error';
import { EXIT } from './exit-codes';

/** What to check when the controller never came up. */
export const bleUnavailableMessage = (e: Error): string =>
  `Bluetooth is not available: ${e.message}. Check --hci (default socket:0, the kernel's hci0), the permissions (root, or cap_net_raw,cap_net_admin on node) and that the adapter supports Bluetooth LE.`;

export function tillUnreachableCliError(e: TillUnreachableError): CliError {
  const message =
    e.code === 'ble_unavailable' && e.cause instanceof BleCentralError
      ? bleUnavailableMessage(e.cause)
      : e.message;
  return new CliError(
    e.code,
    message,
    EXIT.notCharged,
    e.cause === undefined ? undefined : { cause: e.cause },
  );
}
