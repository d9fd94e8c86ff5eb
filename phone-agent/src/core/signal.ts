/**
 * A till's signal strength as the radio reported it. 127 is the HCI "RSSI not available"
 * (Core Vol 4, Part E, 7.7.65.2; Android's RSSI_UNKNOWN is the same idea): no measurement, so it
 * is neither strong nor weak. Shown as "signal n/a" and ranked after every measured signal.
 */
export const RSSI_NOT_AVAILABLE = 127;

/** True when `rssi` is a measurement (-127..20 dBm), false for 127 and anything else out of range. */
export const rssiAvailable = (rssi: number): boolean =>
  Number.isFinite(rssi) && rssi !== RSSI_NOT_AVAILABLE && rssi >= -127 && rssi <= 20;

/** For sorting, strongest first; signals not available last (in their original order). */
export const bySignal = (a: { readonly rssi: number }, b: { readonly rssi: number }): number => {
  const ka = rssiAvailable(a.rssi);
  const kb = rssiAvailable(b.rssi);
  if (ka !== kb) return ka ? -1 : 1;
  return ka ? b.rssi - a.rssi : 0;
};

/** "-59 dBm", or "signal n/a". */
export const signalText = (rssi: number): string => (rssiAvailable(rssi) ? `${rssi} dBm` : 'signal n/a');
