/**
 * A fingerprint "sensor" that reads a captured template from a file (64 bytes, signed
 * components): for testers and for devices whose sensor driver writes its capture to a file.
 * The template goes to the card only; it is never logged. A file that is missing or not a
 * template raises CvmDataError, so the CLI reports it before anything is sent.
 *
 * @example
 *   const sensor = new FileBiometricSensor('finger.bin');
 *   await pay({ ..., cvm: { method: 'biometric', sensor } });
 */
import { readFileSync } from 'node:fs';
import { CvmDataError, templateFromBytes } from '@bluetill/protocol';
import type { BiometricSensor } from '../ports/biometric-sensor';

export class FileBiometricSensor implements BiometricSensor {
  constructor(private readonly path: string) {}

  async capture(): Promise<Int8Array> {
    let bytes: Uint8Array;
    try {
      bytes = new Uint8Array(readFileSync(this.path));
    } catch (cause) {
      throw new CvmDataError('bad_template', 'the fingerprint template file cannot be read', { cause });
    }
    return templateFromBytes(bytes);
  }
}
