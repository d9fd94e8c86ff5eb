/**
 * A simulated fingerprint sensor (claim 16): each capture of a finger is its enrolled template
 * plus noise (uniform in ±noise per component, from a seeded generator so runs repeat), as a real
 * sensor never reads a finger twice the same way. The card matches by cosine similarity with a
 * threshold (protocol's BIOMETRIC_MATCH_THRESHOLD, 0.90): with components in -100..100, noise up
 * to about ±25 still matches; ±60 or another finger does not.
 */
import { BIOMETRIC_TEMPLATE_LENGTH, checkBiometricTemplate } from '@bluetill/protocol';
import type { BiometricSensor } from '@bluetill/phone-agent';
import { seededRandom } from '@bluetill/protocol';

export interface SimulatedFingerprintSensorOptions {
  /** Largest change per component of a capture (default 10: a clean read). */
  readonly noise?: number;
  readonly seed?: number;
}

export class SimulatedFingerprintSensor implements BiometricSensor {
  captures = 0;
  private readonly random: () => number;

  constructor(
    private readonly finger: Int8Array,
    private readonly o: SimulatedFingerprintSensorOptions = {},
  ) {
    checkBiometricTemplate(finger);
    this.random = seededRandom(o.seed ?? 1);
  }

  async capture(): Promise<Int8Array> {
    this.captures += 1;
    const noise = this.o.noise ?? 10;
    const out = new Int8Array(BIOMETRIC_TEMPLATE_LENGTH);
    for (let i = 0; i < out.length; i++) {
      const v = (this.finger[i] as number) + Math.round((this.random() * 2 - 1) * noise);
      out[i] = Math.max(-128, Math.min(127, v));
    }
    if (out.every((v) => v === 0)) out[0] = 1;
    return out;
  }
}
