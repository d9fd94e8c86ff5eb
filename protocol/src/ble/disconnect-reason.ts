/**
 * HCI disconnect reasons (Bluetooth Core Vol 1, Part F, error codes) as the short strings the BLE
 * ports report in onDisconnect. Takes what the stacks give: a number, a numeric string, or nothing.
 */
export function disconnectReason(code: unknown): string {
  if (code === undefined || code === null) return 'unknown';
  const n = typeof code === 'number' ? code : Number(code);
  switch (n) {
    case 0x08:
      return 'supervision_timeout';
    case 0x13:
      return 'remote_user_terminated';
    case 0x16:
      return 'local_host_terminated';
    case 0x3e:
      return 'failed_to_establish';
    default:
      return Number.isInteger(n) ? `hci_0x${n.toString(16).padStart(2, '0')}` : 'unknown';
  }
}
