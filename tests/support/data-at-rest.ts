/**
 * Data at rest: what a card company or a till must never keep in clear, and a scan of files for
 * it. The needles come from the cards' personalization files (what the issuer put on each card):
 * the card number (ASCII digits and packed BCD), the PIN (as a format-0 clear PIN block, the
 * fixed half of a format-4 clear PIN field, and, in text logs, as a quoted string), and the
 * card's keys (ICC private key, ICC AC master key, personalization key). Files scanned: SQLite
 * databases with their -wal/-shm files, and logs, under a folder (cards/ and keys.json are the
 * issuer's output and sealed key file, not data at rest of a running system).
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { decodePersonalizationData, encodePinBlock0, pinField4 } from '@bluetill/protocol';

export interface Needle {
  /** What it is, never the value: e.g. "card-alice PAN (BCD)". */
  readonly label: string;
  readonly bytes: Buffer;
  /** Only searched in text logs (short ASCII forms that random binary could contain). */
  readonly textOnly?: boolean;
}

export interface ScanResult {
  readonly files: number;
  readonly bytes: number;
  readonly needles: number;
  /** file → labels found (empty when clean). */
  readonly hits: ReadonlyArray<{ file: string; label: string }>;
}

const bcd = (digits: string) => Buffer.from(digits.length % 2 ? `${digits}F` : digits, 'hex');

/** Needles for every card personalization file (cards/<id>.json) in `cardsDir`. */
export function cardSecrets(cardsDir: string): Needle[] {
  const out: Needle[] = [];
  for (const f of readdirSync(cardsDir).filter((n) => n.endsWith('.json'))) {
    const file = JSON.parse(readFileSync(join(cardsDir, f), 'utf8')) as { personalization: string; personalizationKey: string };
    const p = decodePersonalizationData(Buffer.from(file.personalization, 'base64'));
    const id = f.replace(/\.json$/, '');
    const key = Buffer.from(p.iccPrivateKey);
    out.push(
      { label: `${id} PAN`, bytes: Buffer.from(p.pan, 'latin1') },
      { label: `${id} PAN (BCD)`, bytes: bcd(p.pan) },
      { label: `${id} PIN block format 0`, bytes: Buffer.from(encodePinBlock0(p.pin, p.pan)) },
      { label: `${id} PIN field format 4`, bytes: Buffer.from(pinField4(p.pin).subarray(0, 8)) },
      { label: `${id} PIN (quoted)`, bytes: Buffer.from(`"${p.pin}"`, 'latin1'), textOnly: true },
      // 48 bytes from the middle of the PKCS#8 DER: inside the private exponent / primes.
      { label: `${id} ICC private key`, bytes: key.subarray(Math.floor(key.length / 2), Math.floor(key.length / 2) + 48) },
      { label: `${id} AC master key`, bytes: Buffer.from(p.acMasterKey) },
      { label: `${id} personalization key`, bytes: Buffer.from(file.personalizationKey, 'base64') },
    );
  }
  return out;
}

const isTarget = (name: string) => /\.(sqlite|db)(-wal|-shm|-journal)?$/.test(name) || /\.log$/.test(name);

/** Databases (with -wal/-shm) and logs under `dir` (recursively; cards/ and tls/ skipped). */
export function filesAtRest(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    if (st.isDirectory()) {
      if (name !== 'cards' && name !== 'tls') out.push(...filesAtRest(path));
    } else if (isTarget(name)) out.push(path);
  }
  return out;
}

/** Searches every file for every needle. */
export function scanAtRest(files: readonly string[], needles: readonly Needle[]): ScanResult {
  const hits: { file: string; label: string }[] = [];
  let bytes = 0;
  for (const file of files) {
    let data: Buffer;
    try {
      data = readFileSync(file);
    } catch {
      continue; // a -wal or -shm file removed by a checkpoint meanwhile
    }
    bytes += data.length;
    const text = file.endsWith('.log');
    for (const n of needles) if ((text || !n.textOnly) && data.includes(n.bytes)) hits.push({ file, label: n.label });
  }
  return { files: files.length, bytes, needles: needles.length, hits };
}
