/**
 * The phone's fingerprint sensor (claim 16): it captures a finger and hands over a template, which
 * the phone passes to the card for match-on-card; the phone never compares templates itself and
 * never stores or logs one. The simulator supplies a simulated sensor.
 *
 * @example
 *   const template = await sensor.capture();   // 64 signed components
 *   const r = await card.verifyCardholder?.({ method: 'biometric', template });
 */
export interface BiometricSensor {
  capture(): Promise<Int8Array>;
}
