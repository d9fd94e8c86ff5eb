/**
 * Data at rest: what a card company or a till must never keep in clear, and a scan of files for
 * it. The needles come from the cards' personalization files (what the issuer put on each card):
 * the card number (ASCII digits and packed BCD), the PIN (as a format-0 clear PIN block, the
 * fixed half of a format-4 clear PIN field, and, in text logs, as a quoted string), and the
 * card's keys (ICC private key, ICC AC master key, personalization key). Files scanned: SQLite
 * databases with their -wal/-shm files, and logs, under a folder (cards/ and keys.json are the
 * issuer's output and sealed key file, not data at rest of a running system).
 */
import { createDecipheriv } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import Database from 'better-sqlite3';
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
    const file = JSON.parse(readFileSync(join(cardsDir, f), 'utf8')) as {
      personalization: string;
      personalizationKey: string;
    };
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
      {
        label: `${id} ICC private key`,
        bytes: key.subarray(Math.floor(key.length / 2), Math.floor(key.length / 2) + 48),
      },
      { label: `${id} AC master key`, bytes: Buffer.from(p.acMasterKey) },
      { label: `${id} personalization key`, bytes: Buffer.from(file.personalizationKey, 'base64') },
    );
  }
  return out;
}

/**
 * What a till must not keep once an outcome is known, beyond cardSecrets: the cardholder's name
 * and the track-2 equivalent's opening (PAN and separator, BCD), per card.
 */
export function tillCardSecrets(cardsDir: string): Needle[] {
  const out = cardSecrets(cardsDir);
  for (const f of readdirSync(cardsDir).filter((n) => n.endsWith('.json'))) {
    const file = JSON.parse(readFileSync(join(cardsDir, f), 'utf8')) as { personalization: string };
    const p = decodePersonalizationData(Buffer.from(file.personalization, 'base64'));
    const id = f.replace(/\.json$/, '');
    out.push({ label: `${id} cardholder name`, bytes: Buffer.from(p.cardholderName, 'latin1') });
    if (p.pan.length % 2 === 1)
      out.push({ label: `${id} track 2 (PAN, separator)`, bytes: Buffer.from(`${p.pan}D`, 'hex') });
  }
  return out;
}

/**
 * A till journal read as an attacker holding its key would: every sealed request still in the
 * attempts table, opened (AES-256-GCM, AAD = terminal transaction id). A wiped request is empty.
 */
export function journalPlaintexts(path: string, key: Uint8Array): Buffer[] {
  const db = new Database(path, { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare('SELECT terminal_txn_id AS txn, request FROM attempts').all() as {
      txn: string;
      request: Buffer;
    }[];
    return rows
      .filter((r) => r.request.length > 0)
      .map((r) => {
        const d = createDecipheriv('aes-256-gcm', key, r.request.subarray(0, 12));
        d.setAAD(Buffer.from(r.txn));
        d.setAuthTag(r.request.subarray(r.request.length - 16));
        return Buffer.concat([d.update(r.request.subarray(12, r.request.length - 16)), d.final()]);
      });
  } finally {
    db.close();
  }
}

/** Scans a till journal's files (database, -wal, -shm) in clear, and its requests opened with `key`. */
export function scanTillJournal(
  path: string,
  key: Uint8Array,
  needles: readonly Needle[],
): ScanResult & { opened: number } {
  const files = [path, `${path}-wal`, `${path}-shm`].filter((f) => existsSync(f));
  const raw = scanAtRest(files, needles);
  const opened = journalPlaintexts(path, key);
  const hits = [...raw.hits];
  for (const plain of opened)
    for (const n of needles)
      if (!n.textOnly && plain.includes(n.bytes))
        hits.push({ file: `${path} (request opened with the journal key)`, label: n.label });
  return { ...raw, hits, opened: opened.length };
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
    for (const n of needles)
      if ((text || !n.textOnly) && data.includes(n.bytes)) hits.push({ file, label: n.label });
  }
  return { files: files.length, bytes, needles: needles.length, hits };
}
