import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import {
  OfflineParameters,
  SignedOfflineParameters,
  blockListEntry,
  generateP256,
  issueCertificate,
  signOfflineParameters,
  signWith,
} from '@bluetill/protocol';
import { SqliteOfflineJournal } from '../../adapters/journal/offline-journal.sqlite';
import { BackendError } from '../ports/backend-client';
import { OfflineParametersCopy, type OfflineParametersSource } from './offline-parameters';

const NOW = Date.parse('2026-12-07T10:00:00Z');
const root = generateP256();
const signer = generateP256();
const certificate = issueCertificate(
  {
    subjectId: 'receipt',
    role: 'receipt',
    merchantId: '',
    merchantName: '',
    publicKey: signer.publicRaw,
    notAfterMs: NOW + 365 * 86_400_000,
    issuer: 'root',
  },
  root.privateKey,
);
const PAN = '6799990100000000019';
const params = (o: Partial<OfflineParameters> = {}): SignedOfflineParameters => {
  const salt = new Uint8Array(randomBytes(16));
  return signOfflineParameters(
    {
      terminalId: 'T-0001',
      merchantId: 'M-0001',
      currency: 'EUR',
      floorLimitMinor: 50_00,
      exposureMinor: 500_00,
      perCardDailyCount: 3,
      perCardDailyAmountMinor: 100_00,
      blockListSalt: salt,
      blockedCards: [blockListEntry(salt, PAN, 1)],
      issuedAtMs: NOW,
      validUntilMs: NOW + 3_600_000,
      ...o,
    },
    { sign: (d) => signWith(signer.privateKey, d) },
    certificate,
  );
};

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function world() {
  const dir = mkdtempSync(join(tmpdir(), 'bluetill-offline-params-'));
  dirs.push(dir);
  const path = join(dir, 'journal.sqlite');
  const journal = new SqliteOfflineJournal(path, { key: new Uint8Array(32).fill(2) });
  const clock = { t: NOW, now: () => clock.t };
  let answer: () => Promise<SignedOfflineParameters> = async () => params();
  const source: OfflineParametersSource = { getOfflineParameters: () => answer() };
  const open = () =>
    new OfflineParametersCopy({
      terminalId: 'T-0001',
      merchantId: 'M-0001',
      timeZone: 'Europe/Berlin',
      cardCompanyRoot: root.publicKey,
      store: journal,
      source,
      clock,
    });
  return { path, journal, clock, open, answer: (f: typeof answer) => (answer = f) };
}
const card = (pan: string, psn = 1) => ({ pan, psn, cardKey: 'k' });

describe("the till's copy of the offline parameters", () => {
  it('is in force from a checked fetch until its validity, with the limits and block list sent', async () => {
    const w = world();
    const copy = w.open();
    expect(copy.inForce(NOW)).toBeNull();
    expect(await copy.refresh()).toEqual({ outcome: 'kept', issuedAtMs: NOW, validUntilMs: NOW + 3_600_000 });
    const rules = copy.inForce(NOW + 1)!;
    expect(rules.limits).toEqual({
      currency: 'EUR',
      floorLimitMinor: 50_00,
      exposureMinor: 500_00,
      perCardDailyCount: 3,
      perCardDailyAmountMinor: 100_00,
      timeZone: 'Europe/Berlin',
    });
    expect(rules.blocked(card(PAN))).toBe(true);
    expect(rules.blocked(card(PAN, 2))).toBe(false);
    expect(rules.blocked(card('6799990100000000027'))).toBe(false);
    expect(copy.inForce(NOW + 3_600_000)).toBeNull();
  });

  it('keeps its copy when the card company is unreachable; drops it when the card company refuses the till', async () => {
    const w = world();
    const copy = w.open();
    await copy.refresh();
    w.answer(async () => {
      throw new BackendError('unavailable', 'no connection', { unreachable: true });
    });
    expect(await copy.refresh()).toMatchObject({ outcome: 'unreachable' });
    expect(copy.inForce(NOW)).not.toBeNull();
    w.answer(async () => {
      throw new BackendError('refused', 'certificate revoked', { reason: 'certificate_revoked' });
    });
    expect(await copy.refresh()).toMatchObject({ outcome: 'dropped' });
    expect(copy.inForce(NOW)).toBeNull();
    expect(w.journal.loadParameters()).toBeNull();
    expect(w.open().inForce(NOW)).toBeNull();
  });

  it('refuses limits out of range, and a copy edited in the journal file is dropped at start', async () => {
    const w = world();
    const copy = w.open();
    w.answer(async () => params({ perCardDailyAmountMinor: -5 }));
    expect(await copy.refresh()).toMatchObject({ outcome: 'refused', error: { code: 'malformed' } });
    w.answer(async () => params());
    await copy.refresh();
    expect(w.open().inForce(NOW)).not.toBeNull(); // a restart: the kept copy checked again
    const signed = SignedOfflineParameters.decode(w.journal.loadParameters()!);
    const edited = SignedOfflineParameters.encode({
      ...signed,
      parameters: OfflineParameters.encode({
        ...OfflineParameters.decode(signed.parameters),
        blockedCards: [],
      }).finish(),
    }).finish();
    const db = new Database(w.path);
    db.prepare('UPDATE offline_parameters SET signed = ?').run(Buffer.from(edited));
    db.close();
    expect(w.open().inForce(NOW)).toBeNull();
    expect(w.journal.loadParameters()).toBeNull();
  });

  it('a copy that expired while the till was off is not used after a restart', async () => {
    const w = world();
    await w.open().refresh();
    w.clock.t = NOW + 3_600_000;
    expect(w.open().held()).toBeNull();
  });
});
