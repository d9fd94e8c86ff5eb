import { createHash } from 'node:crypto';

/** SHA-256 of a request's encoding: what exactly-once compares when a transaction id comes again. */
export const requestHash = (encoded: Uint8Array): Uint8Array =>
  new Uint8Array(createHash('sha256').update(encoded).digest());
