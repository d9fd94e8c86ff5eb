/**
 * Which HCI controller a BLE stack talks to: a UART (a serial dongle, or a pty of the
 * simulator's virtual controller) or a kernel HCI socket (hci0 = deviceId 0).
 */
export type HciTransport =
  | { readonly transport: 'uart'; readonly path: string; readonly baudRate?: number }
  | { readonly transport: 'socket'; readonly deviceId: number; readonly userChannel?: boolean };

/** Options for `withBindings('hci', …)` of @stoprocent/bleno. */
export const blenoBindingOptions = (t: HciTransport): Record<string, unknown> => {
  switch (t.transport) {
    case 'uart':
      return {
        hciDriver: 'uart',
        bindParams: { uart: { port: t.path, ...(t.baudRate ? { baudRate: t.baudRate } : {}) } },
      };
    case 'socket':
      return {
        hciDriver: 'native',
        deviceId: t.deviceId,
        ...(t.userChannel !== undefined ? { userChannel: t.userChannel } : {}),
      };
  }
};
