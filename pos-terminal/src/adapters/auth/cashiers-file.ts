/**
 * The till's cashiers: who may sign in at this till, with which role, and the limit above which
 * refunds and voids need a manager. Secrets (PIN or password) are kept only as salted scrypt
 * hashes (node:crypto, N = 2^15, r = 8, p = 1, 32-byte salt and hash); the file is written 0600.
 *
 *   { "version": 1, "approvalLimitMinor": 2000,
 *     "cashiers": [{ "id": "ana", "name": "Ana", "role": "manager", "scrypt": { "n": 32768, "r": 8, "p": 1, "salt": "…", "hash": "…" } }] }
 *
 * @example
 *   const file = await addCashier(emptyCashiersFile(2000), { id: 'ana', name: 'Ana', role: 'manager' }, '4711');
 *   writeCashiersFile(path, file);
 *   const ok = await verifyCashierSecret(readCashiersFile(path).cashiers[0]!, '4711');
 */
import { randomBytes, scrypt as scryptCb, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { z } from 'zod';

export type CashierRole = 'cashier' | 'manager';

export interface CashierRecord {
  readonly id: string;
  readonly name: string;
  readonly role: CashierRole;
  readonly scrypt: {
    readonly n: number;
    readonly r: number;
    readonly p: number;
    readonly salt: string;
    readonly hash: string;
  };
}

export interface CashiersFile {
  readonly version: 1;
  /** Refunds and voids above this (minor units) need a manager's approval; the day's close always does. */
  readonly approvalLimitMinor: number;
  readonly cashiers: readonly CashierRecord[];
}

export class CashiersFileError extends Error {
  constructor(
    readonly code: 'unreadable' | 'invalid' | 'duplicate' | 'weak_secret',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'CashiersFileError';
  }
}

const N = 1 << 15;
const R = 8;
const P = 1;
const b64 = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, '32 bytes, base64');
const schema = z
  .object({
    version: z.literal(1),
    approvalLimitMinor: z.number().int().min(0).max(100_000_000),
    cashiers: z
      .array(
        z
          .object({
            id: z
              .string()
              .min(1)
              .max(32)
              .regex(/^[A-Za-z0-9._-]+$/),
            name: z.string().trim().min(1).max(40),
            role: z.enum(['cashier', 'manager']),
            scrypt: z
              .object({
                n: z
                  .number()
                  .int()
                  .min(1 << 14)
                  .max(1 << 20),
                r: z.number().int().min(8).max(16),
                p: z.number().int().min(1).max(4),
                salt: b64,
                hash: b64,
              })
              .strict(),
          })
          .strict(),
      )
      .min(1)
      .max(500),
  })
  .strict();

function scrypt(secret: string, salt: Buffer, o: { n: number; r: number; p: number }): Promise<Buffer> {
  const options: ScryptOptions = { N: o.n, r: o.r, p: o.p, maxmem: 256 * o.n * o.r + 1024 * 1024 };
  return new Promise((resolve, reject) =>
    scryptCb(secret.normalize('NFKC'), salt, 32, options, (e, key) => (e ? reject(e) : resolve(key))),
  );
}

export function emptyCashiersFile(approvalLimitMinor: number): CashiersFile {
  return { version: 1, approvalLimitMinor, cashiers: [] };
}

/** A cashier added with a fresh salt; refuses a duplicate id and a secret under 4 characters. */
export async function addCashier(
  file: CashiersFile,
  c: { id: string; name: string; role: CashierRole },
  secret: string,
): Promise<CashiersFile> {
  if (secret.length < 4)
    throw new CashiersFileError('weak_secret', 'a PIN or password has at least 4 characters');
  if (file.cashiers.some((x) => x.id === c.id))
    throw new CashiersFileError('duplicate', `cashier ${c.id} already exists`);
  const salt = randomBytes(32);
  const hash = await scrypt(secret, salt, { n: N, r: R, p: P });
  const record: CashierRecord = {
    ...c,
    scrypt: { n: N, r: R, p: P, salt: salt.toString('base64'), hash: hash.toString('base64') },
  };
  const next = { ...file, cashiers: [...file.cashiers, record] };
  const parsed = schema.safeParse(next);
  if (!parsed.success)
    throw new CashiersFileError(
      'invalid',
      `cashier: ${parsed.error.issues[0]?.path.join('.') ?? ''} ${parsed.error.issues[0]?.message ?? ''}`,
    );
  return next;
}

/** Checks a secret against a record (scrypt, constant-time compare). */
export async function verifyCashierSecret(record: CashierRecord, secret: string): Promise<boolean> {
  const expected = Buffer.from(record.scrypt.hash, 'base64');
  const got = await scrypt(secret, Buffer.from(record.scrypt.salt, 'base64'), record.scrypt);
  return got.length === expected.length && timingSafeEqual(got, expected);
}

/** A record no secret matches (its hash is random): checked for unknown ids, so they take as long as known ones. */
export function decoyRecord(): CashierRecord {
  return {
    id: '-',
    name: '-',
    role: 'cashier',
    scrypt: {
      n: N,
      r: R,
      p: P,
      salt: randomBytes(32).toString('base64'),
      hash: randomBytes(32).toString('base64'),
    },
  };
}

export function readCashiersFile(path: string): CashiersFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (cause) {
    throw new CashiersFileError('unreadable', `cashiers file ${path} cannot be read as JSON`, { cause });
  }
  const parsed = schema.safeParse(json);
  if (!parsed.success) {
    const first = parsed.error.issues[0];
    throw new CashiersFileError(
      'invalid',
      `cashiers file ${path}: ${first ? `${first.path.join('.') || 'file'}: ${first.message}` : 'invalid'}`,
    );
  }
  const ids = new Set<string>();
  for (const c of parsed.data.cashiers) {
    if (ids.has(c.id))
      throw new CashiersFileError('duplicate', `cashiers file ${path}: cashier ${c.id} twice`);
    ids.add(c.id);
  }
  return parsed.data;
}

export function writeCashiersFile(path: string, file: CashiersFile): void {
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
}
