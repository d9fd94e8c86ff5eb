import type { HciTransport } from '../adapters/ble-central.noble';
import { CliError } from './cli-error';

export const HCI_HELP =
  "HCI transport: uart:<tty path> (a UART dongle, or the simulator's virtual controller) or socket:<hci number> (the kernel's hciN)";

/** Parses `--hci uart:/dev/ttyACM0[@baud]` or `--hci socket:0` (default socket:0). */
export function parseHci(value: string | undefined): HciTransport {
  const v = value ?? 'socket:0';
  const colon = v.indexOf(':');
  const kind = colon < 0 ? v : v.slice(0, colon);
  const rest = colon < 0 ? '' : v.slice(colon + 1);
  if (kind === 'socket') {
    const deviceId = rest === '' ? 0 : Number(rest);
    if (!Number.isInteger(deviceId) || deviceId < 0)
      throw CliError.usage('usage', `--hci socket:N needs a device number, got "${v}"`);
    return { transport: 'socket', deviceId };
  }
  if (kind === 'uart' && rest !== '') {
    const at = rest.lastIndexOf('@');
    if (at > 0) {
      const baudRate = Number(rest.slice(at + 1));
      if (!Number.isInteger(baudRate) || baudRate <= 0)
        throw CliError.usage('usage', `--hci uart:PATH@BAUD needs a baud rate, got "${v}"`);
      return { transport: 'uart', path: rest.slice(0, at), baudRate };
    }
    return { transport: 'uart', path: rest };
  }
  throw CliError.usage('usage', `--hci must be uart:<path> or socket:<n>, got "${v}"`);
}

/** A non-negative integer option (milliseconds, descriptors). */
export function parseCount(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 0)
    throw CliError.usage('usage', `${name} must be a whole number, got "${value}"`);
  return n;
}
