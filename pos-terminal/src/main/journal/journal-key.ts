import { hkdfSync, type KeyObject } from 'node:crypto';

/** The journal's at-rest key, derived from the terminal's private key (HKDF-SHA256), so no second secret needs keeping. */
export function journalKey(terminalKey: KeyObject): Uint8Array {
  const der = terminalKey.export({ format: 'der', type: 'pkcs8' });
  return new Uint8Array(hkdfSync('sha256', der, Buffer.from('bluetill journal'), Buffer.from('journal key v1'), 32));
}
