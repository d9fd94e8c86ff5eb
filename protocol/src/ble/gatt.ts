/**
 * The bluetill GATT service. One primary service; the phone (central) writes requests to
 * WRITE, the till (peripheral) answers on NOTIFY (one connection, never broadcast), and INFO
 * is a small read-only value describing the till.
 *
 * | characteristic | UUID                                 | properties              |
 * | -------------- | ------------------------------------ | ----------------------- |
 * | service        | 6e4b0001-b1e7-4c1a-9a7e-b1e7111c0de0 | primary                 |
 * | write          | 6e4b0002-b1e7-4c1a-9a7e-b1e7111c0de0 | write, write w/o resp.  |
 * | notify         | 6e4b0003-b1e7-4c1a-9a7e-b1e7111c0de0 | notify                  |
 * | info           | 6e4b0004-b1e7-4c1a-9a7e-b1e7111c0de0 | read                    |
 */
export const GATT = {
  service: '6e4b0001b1e74c1a9a7eb1e7111c0de0',
  write: '6e4b0002b1e74c1a9a7eb1e7111c0de0',
  notify: '6e4b0003b1e74c1a9a7eb1e7111c0de0',
  info: '6e4b0004b1e74c1a9a7eb1e7111c0de0',
} as const;

/** ATT MTU before the exchange (Bluetooth Core Vol 3 Part F 3.2.8) and the most we ask for. */
export const ATT_DEFAULT_MTU = 23;
export const ATT_PREFERRED_MTU = 247;
/** An ATT write or notification carries MTU − 3 bytes of value. */
export const attPayloadSize = (mtu: number): number => mtu - 3;
