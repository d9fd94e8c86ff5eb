/**
 * The registry admin port's contract, run for each adapter over a real database: a SQLite file
 * (SqliteRegistryAdmin) and a PostgreSQL 15 server from test-support (PostgresRegistryAdmin, which
 * migrates first). Each operation writes what it says; bad input, an unknown or inactive
 * reference and a duplicate are refused with a RegistryError of the right code and leave every
 * table as it was (counted with SQL beside the port); two nodes adding the same id at once end
 * with one row and one `duplicate`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { luhnCheckDigit } from '../admin/card-validation';
import { DEMO_KEY_BITS, createKeyMaterial } from '../admin/key-material';
import { cardRecord, merchantCardRecord, type NewCard } from '../admin/registry';
import { RegistryError, type RegistryAdmin, type RegistryErrorCode } from '../ports/registry-admin';
import { SoftwareKeyStore } from './key-store.file';
import { DEFAULT_OFFLINE_LIMIT_VALUES } from '../domain/offline-limits';
import { SqliteRegistryAdmin } from './sqlite/registry-admin.sqlite';
import { PostgresRegistryAdmin } from './postgres/registry-admin.postgres';
import { connectPostgres, startPostgresServer, type PostgresServer } from '../test-support/postgres-server';

const TABLES = [
  'accounts',
  'merchants',
  'terminals',
  'cards',
  'merchant_cards',
  'terminal_certificates',
] as const;
type Table = (typeof TABLES)[number];

interface Opened {
  readonly admin: RegistryAdmin;
  /** A second admin on the same database (another node, another process). */
  readonly other: RegistryAdmin;
  /** Raw SQL beside the port: row counts, and a setup the port has no operation for. */
  rows(table: Table): Promise<number>;
  exec(statement: string): Promise<void>;
  /**
   * PostgreSQL: holds writes to `table` (a table lock in another session) until both adders are
   * waiting, so both have checked and found nothing before either inserts: the race the unique
   * keys decide. SQLite writes one transaction at a time (BEGIN IMMEDIATE): nothing to hold.
   */
  race?(table: Table, adders: () => Promise<unknown>[]): Promise<PromiseSettledResult<unknown>[]>;
  close(): Promise<void>;
}

interface AdminFactory {
  readonly name: string;
  open(): Promise<Opened>;
  stop(): Promise<void>;
}

let pg: PostgresServer | undefined;
let databases = 0;
const factories: AdminFactory[] = [
  {
    name: 'sqlite',
    async open() {
      const dir = mkdtempSync(join(tmpdir(), 'bluetill-registry-admin-'));
      const path = join(dir, 'backend.sqlite');
      const admin = SqliteRegistryAdmin.open(path);
      const other = SqliteRegistryAdmin.open(path);
      const raw = new Database(path);
      return {
        admin,
        other,
        rows: async (t) => (raw.prepare(`SELECT count(*) AS n FROM ${t}`).get() as { n: number }).n,
        exec: async (statement) => void raw.exec(statement),
        close: async () => {
          raw.close();
          await admin.close();
          await other.close();
          rmSync(dir, { recursive: true, force: true });
        },
      };
    },
    async stop() {},
  },
  {
    name: 'postgres',
    async open() {
      pg ??= await startPostgresServer();
      const url = await pg.createDatabase(`registry_${++databases}`);
      const admin = await PostgresRegistryAdmin.open(url);
      const other = await PostgresRegistryAdmin.open(url);
      const raw = connectPostgres(url, { max: 1 });
      const locker = connectPostgres(url, { max: 1 });
      return {
        admin,
        other,
        rows: async (t) => Number((await raw.unsafe(`SELECT count(*) AS n FROM ${t}`))[0]!.n),
        exec: async (statement) => void (await raw.unsafe(statement)),
        race: async (table, adders) => {
          const lock = await locker.reserve();
          await lock`BEGIN`;
          await lock.unsafe(`LOCK TABLE ${table} IN SHARE ROW EXCLUSIVE MODE`);
          const outcomes = Promise.allSettled(adders());
          for (let i = 0; i < 200; i++) {
            const [w] = await raw`SELECT count(*)::int AS n FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'`;
            if (w!.n >= 2) break;
            await new Promise((r) => setTimeout(r, 10));
          }
          await lock`COMMIT`;
          lock.release();
          return outcomes;
        },
        close: async () => {
          await raw.end();
          await locker.end();
          await admin.close();
          await other.close();
        },
      };
    },
    async stop() {
      await pg?.stop();
    },
  },
];

const keys = new SoftwareKeyStore(createKeyMaterial(Date.UTC(2026, 11, 7), { emvKeyBits: DEMO_KEY_BITS }));
const pan = (body: string) => body + luhnCheckDigit(body);
const card = (id: string, number: string, extra: Partial<NewCard> = {}): NewCard => ({
  id,
  pan: number,
  expiry: '2912',
  cardholderName: 'CONTRACT SHOPPER',
  pin: '4321',
  creditLimitMinor: 250_00,
  currency: 'EUR',
  ...extra,
});
const PAN_A = pan('679999040000000001');
const PAN_B = pan('679999040000000002');
const PAN_M = pan('679999040000000003');

/** `op` is refused with `code` and no table gains or loses a row. */
async function refused(o: Opened, op: () => Promise<unknown>, code: RegistryErrorCode, message: RegExp) {
  const before = await Promise.all(TABLES.map((t) => o.rows(t)));
  const error = await op().then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(RegistryError);
  expect(error).toMatchObject({ code, message: expect.stringMatching(message) });
  expect(await Promise.all(TABLES.map((t) => o.rows(t)))).toEqual(before);
}

afterAll(async () => {
  for (const f of factories) await f.stop();
});

describe.each(factories)('RegistryAdmin contract: $name', (factory) => {
  let o: Opened;
  beforeAll(async () => {
    o = await factory.open();
  }, 60_000);
  afterAll(async () => o?.close());

  it('adds merchants with their accounts; refuses a duplicate, bad fields and a bad currency, writing nothing', async () => {
    await o.admin.addMerchant({ id: 'M-1', name: 'Bakery', currency: 'EUR' });
    await o.admin.addMerchant({ id: 'M-2', name: 'Closed Shop', currency: 'JPY', status: 'inactive' });
    expect(await o.admin.findMerchant('M-1')).toEqual({
      id: 'M-1',
      name: 'Bakery',
      status: 'active',
      currency: 'EUR',
      terminals: 0,
    });
    expect((await o.admin.listMerchants()).map((m) => [m.id, m.currency, m.status])).toEqual([
      ['M-1', 'EUR', 'active'],
      ['M-2', 'JPY', 'inactive'],
    ]);
    expect(await o.rows('accounts')).toBe(2);
    await refused(
      o,
      () => o.admin.addMerchant({ id: 'M-1', name: 'Again', currency: 'EUR' }),
      'duplicate',
      /M-1/,
    );
    await refused(
      o,
      () => o.admin.addMerchant({ id: 'M-3', name: 'X', currency: 'XXX' }),
      'invalid',
      /currency/,
    );
    await refused(
      o,
      () => o.admin.addMerchant({ id: 'M-3', name: '  ', currency: 'EUR' }),
      'invalid',
      /name/,
    );
    await refused(o, () => o.admin.addMerchant({ id: 'M 3;', name: 'X', currency: 'EUR' }), 'invalid', /id/);
    // An account already named like the merchant's: nothing half-written (no merchant without its account).
    await o.exec("INSERT INTO accounts (id, kind, currency) VALUES ('acct-M-4', 'merchant', 'EUR')");
    await refused(
      o,
      () => o.admin.addMerchant({ id: 'M-4', name: 'X', currency: 'EUR' }),
      'duplicate',
      /acct-M-4/,
    );
    expect(await o.admin.findMerchant('M-4')).toBeUndefined();
  });

  it('adds terminals to an active merchant only; refuses an unknown merchant and a duplicate', async () => {
    await o.admin.addTerminal({ id: 'T-1', merchantId: 'M-1' });
    expect(await o.admin.findTerminal('T-1')).toEqual({
      id: 'T-1',
      merchantId: 'M-1',
      status: 'active',
      certificates: 0,
    });
    await refused(
      o,
      () => o.admin.addTerminal({ id: 'T-2', merchantId: 'M-9' }),
      'not_found',
      /no merchant M-9/,
    );
    await refused(o, () => o.admin.addTerminal({ id: 'T-2', merchantId: 'M-2' }), 'state', /M-2 is inactive/);
    await refused(o, () => o.admin.addTerminal({ id: 'T-1', merchantId: 'M-1' }), 'duplicate', /T-1/);
    expect((await o.admin.listTerminals({ merchantId: 'M-1' })).map((t) => t.id)).toEqual(['T-1']);
    expect((await o.admin.findMerchant('M-1'))?.terminals).toBe(1);
  });

  it('adds a card with its account, shown masked; the id or the number twice, or a bad field, writes nothing', async () => {
    await o.admin.addCard(cardRecord(keys, card('card-a', PAN_A)));
    expect(await o.admin.showCard('card-a')).toEqual({
      id: 'card-a',
      panMasked: `679999${'*'.repeat(9)}${PAN_A.slice(-4)}`,
      expiry: '2912',
      cardholderName: 'CONTRACT SHOPPER',
      status: 'active',
      pinTries: 0,
      creditLimitMinor: 250_00,
      currency: 'EUR',
      balanceMinor: 0,
      lastAtc: -1,
    });
    expect(await o.admin.findCard('card-a')).toEqual({
      kind: 'payment',
      id: 'card-a',
      status: 'active',
      pinTries: 0,
    });
    await refused(o, () => o.admin.addCard(cardRecord(keys, card('card-a', PAN_B))), 'duplicate', /card-a/);
    await refused(
      o,
      () => o.admin.addCard(cardRecord(keys, card('card-b', PAN_A))),
      'duplicate',
      /registered already/,
    );
    const bad: Array<[Partial<NewCard>, RegExp]> = [
      [{ expiry: '2913' }, /expiry/],
      [{ creditLimitMinor: -1 }, /credit limit/],
      [{ currency: 'XXX' }, /currency/],
      [{ cardholderName: 'A'.repeat(27) }, /cardholder name/],
      [{ panSequence: 100 }, /sequence/],
    ];
    for (const [fields, message] of bad)
      await refused(
        o,
        () => o.admin.addCard(cardRecord(keys, card('card-b', PAN_B, fields))),
        'invalid',
        message,
      );
    await refused(
      o,
      async () => cardRecord(keys, card('card-b', '1234')),
      'invalid',
      /PAN must be 12 to 19 digits/,
    );
    expect((await o.admin.listCards()).map((c) => c.id)).toEqual(['card-a']);
    expect(JSON.stringify(await o.admin.listCards())).not.toContain(PAN_A);
  });

  it("runs `within` inside the card's transaction: its throw undoes the card and its account", async () => {
    let ran = 0;
    await refused(
      o,
      () =>
        o.admin.addCard(cardRecord(keys, card('card-b', PAN_B)), () => {
          ran++;
          throw new RegistryError('invalid', 'the personalization file could not be put in place');
        }),
      'invalid',
      /personalization file/,
    );
    expect(ran).toBe(1);
    expect(await o.admin.findCard('card-b')).toBeUndefined();
    await o.admin.addCard(cardRecord(keys, card('card-b', PAN_B)), () => void ran++);
    expect(ran).toBe(2);
    expect((await o.admin.listCards()).map((c) => c.id)).toEqual(['card-a', 'card-b']);
  });

  it("adds a merchant card with its own terminal (an inactive merchant's too); refuses an unknown merchant and a taken number", async () => {
    await o.admin.addMerchantCard(
      merchantCardRecord(
        keys,
        { id: 'mc-1', pan: PAN_M, expiry: '2912', merchantId: 'M-1', name: 'BAKERY' },
        1_000,
      ),
    );
    expect(await o.admin.findCard('mc-1')).toEqual({
      kind: 'merchant',
      id: 'mc-1',
      status: 'active',
      merchantId: 'M-1',
      terminalId: 'MC-mc-1',
    });
    expect(await o.admin.findTerminal('MC-mc-1')).toMatchObject({ merchantId: 'M-1', status: 'active' });
    const pan2 = pan('679999040000000004');
    await o.admin.addMerchantCard(
      merchantCardRecord(keys, { id: 'mc-2', pan: pan2, expiry: '2912', merchantId: 'M-2', name: 'CLOSED' }),
    );
    await refused(
      o,
      () =>
        o.admin.addMerchantCard(
          merchantCardRecord(keys, {
            id: 'mc-3',
            pan: pan('679999040000000005'),
            expiry: '2912',
            merchantId: 'M-9',
            name: 'X',
          }),
        ),
      'not_found',
      /no merchant M-9/,
    );
    await refused(
      o,
      () =>
        o.admin.addMerchantCard(
          merchantCardRecord(keys, { id: 'mc-3', pan: PAN_A, expiry: '2912', merchantId: 'M-1', name: 'X' }),
        ),
      'duplicate',
      /registered already/,
    );
    await refused(
      o,
      () => o.admin.addCard(cardRecord(keys, card('card-c', PAN_M))),
      'duplicate',
      /registered already/,
    );
  });

  it('sets statuses and resets PIN tries, returning what was; the same status twice, an unknown card, a bad status: refused', async () => {
    expect(await o.admin.setCardStatus('card-a', 'lost')).toBe('active');
    expect((await o.admin.showCard('card-a'))?.status).toBe('lost');
    expect((await o.admin.listCards({ status: 'lost' })).map((c) => c.id)).toEqual(['card-a']);
    await refused(o, () => o.admin.setCardStatus('card-a', 'lost'), 'state', /card-a is lost already/);
    await refused(o, () => o.admin.setCardStatus('card-z', 'blocked'), 'not_found', /no card card-z/);
    await refused(o, () => o.admin.setCardStatus('card-a', 'frozen' as never), 'invalid', /status/);
    expect(await o.admin.setCardStatus('card-a', 'active')).toBe('lost');
    expect(await o.admin.setMerchantCardStatus('mc-1', 'blocked')).toBe('active');
    await refused(o, () => o.admin.setMerchantCardStatus('mc-1', 'blocked'), 'state', /already/);
    await refused(
      o,
      () => o.admin.setMerchantCardStatus('card-a', 'blocked'),
      'not_found',
      /no merchant card card-a/,
    );
    await refused(o, () => o.admin.resetPinTries('card-a'), 'state', /no wrong PIN tries/);
    await o.exec("UPDATE cards SET pin_tries = 3 WHERE id = 'card-a'");
    expect(await o.admin.resetPinTries('card-a')).toBe(3);
    expect((await o.admin.showCard('card-a'))?.pinTries).toBe(0);
    await refused(o, () => o.admin.resetPinTries('card-z'), 'not_found', /no card card-z/);
  });

  it('records terminal certificates, replaces and revokes them (by serial, any case); refuses a duplicate and an unknown terminal', async () => {
    const cert = (n: number, terminalId = 'T-1') => ({
      fingerprint: Array.from({ length: 32 }, () => n.toString(16).padStart(2, '0'))
        .join(':')
        .toUpperCase(),
      terminalId,
      serial: `0a${n}`,
      notAfter: Date.UTC(2027, 11, 7),
      issuedAt: Date.UTC(2026, 11, 7) + n,
    });
    expect(await o.admin.recordTerminalCertificate(cert(1))).toEqual({ revoked: 0 });
    expect(await o.admin.recordTerminalCertificate(cert(2))).toEqual({ revoked: 0 });
    expect((await o.admin.findTerminal('T-1'))?.certificates).toBe(2);
    expect(await o.admin.recordTerminalCertificate(cert(3), { replace: true })).toEqual({ revoked: 2 });
    expect((await o.admin.findTerminal('T-1'))?.certificates).toBe(1);
    await refused(o, () => o.admin.recordTerminalCertificate(cert(3)), 'duplicate', /0a3/);
    await refused(o, () => o.admin.recordTerminalCertificate(cert(4, 'T-9')), 'not_found', /no terminal T-9/);
    await refused(
      o,
      () => o.admin.recordTerminalCertificate({ ...cert(4), serial: 'zz' }),
      'invalid',
      /serial/,
    );
    expect(await o.admin.revokeTerminalCertificates('T-1', { serial: '0A3' })).toBe(1);
    expect(await o.admin.revokeTerminalCertificates('T-1')).toBe(0);
    expect((await o.admin.findTerminal('T-1'))?.certificates).toBe(0);
  });

  it('two nodes adding the same merchant, or cards with the same number, at once: one row each, the other told `duplicate`', async () => {
    const race = (table: Table, adders: () => Promise<unknown>[]) =>
      o.race ? o.race(table, adders) : Promise.allSettled(adders());
    const outcomes = await race('merchants', () => [
      o.admin.addMerchant({ id: 'M-RACE', name: 'Race', currency: 'EUR' }),
      o.other.addMerchant({ id: 'M-RACE', name: 'Race', currency: 'EUR' }),
    ]);
    expect(outcomes.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(outcomes.find((r) => r.status === 'rejected')).toMatchObject({ reason: { code: 'duplicate' } });
    const cardOutcomes = await race('cards', () => [
      o.admin.addCard(cardRecord(keys, card('card-r1', pan('679999040000000009')))),
      o.other.addCard(cardRecord(keys, card('card-r2', pan('679999040000000009')))),
    ]);
    expect(cardOutcomes.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    expect(cardOutcomes.find((r) => r.status === 'rejected')).toMatchObject({
      reason: { code: 'duplicate' },
    });
    expect(await o.admin.counts()).toEqual({ merchants: 3, terminals: 3, cards: 3, merchantCards: 2 });
    expect(await o.rows('accounts')).toBe(2 + 1 + 3 + 1); // M-1, M-2, acct-M-4, three cards, M-RACE
  });
  it("sets offline limits per merchant and per terminal (the terminal's override, null clears); bad input writes nothing", async () => {
    await o.admin.addMerchant({ id: 'M-OFF', name: 'Offline shop', currency: 'EUR' });
    await o.admin.addTerminal({ id: 'T-OFF1', merchantId: 'M-OFF' });
    await o.admin.addTerminal({ id: 'T-OFF2', merchantId: 'M-OFF' });
    expect((await o.admin.offlineLimits({ terminalId: 'T-OFF1' })).effective).toEqual(
      DEFAULT_OFFLINE_LIMIT_VALUES,
    );
    const m = await o.admin.setOfflineLimits(
      { merchantId: 'M-OFF' },
      { floorLimitMinor: 30_00, exposureMinor: 400_00 },
    );
    expect(m).toMatchObject({ merchantId: 'M-OFF', terminalId: null, currency: 'EUR', terminal: null });
    expect(m.effective).toEqual({
      ...DEFAULT_OFFLINE_LIMIT_VALUES,
      floorLimitMinor: 30_00,
      exposureMinor: 400_00,
    });
    const t = await o.admin.setOfflineLimits(
      { terminalId: 'T-OFF1' },
      { floorLimitMinor: 10_00, cardDailyCount: 1 },
    );
    expect(t.effective).toEqual({
      floorLimitMinor: 10_00,
      exposureMinor: 400_00,
      cardDailyCount: 1,
      cardDailyAmountMinor: DEFAULT_OFFLINE_LIMIT_VALUES.cardDailyAmountMinor,
    });
    expect((await o.other.offlineLimits({ terminalId: 'T-OFF2' })).effective.floorLimitMinor).toBe(30_00);
    // null clears the terminal's own setting: the merchant's applies again.
    const cleared = await o.admin.setOfflineLimits({ terminalId: 'T-OFF1' }, { floorLimitMinor: null });
    expect(cleared.terminal).toMatchObject({ floorLimitMinor: null, cardDailyCount: 1 });
    expect(cleared.effective.floorLimitMinor).toBe(30_00);
    const before = await o.admin.offlineLimits({ terminalId: 'T-OFF1' });
    await refused(
      o,
      () => o.admin.setOfflineLimits({ terminalId: 'T-OFF1' }, { floorLimitMinor: -1 }),
      'invalid',
      /floor limit/,
    );
    await refused(
      o,
      () => o.admin.setOfflineLimits({ terminalId: 'T-OFF1' }, { cardDailyCount: 1.5, exposureMinor: 5 }),
      'invalid',
      /daily count/,
    );
    await refused(
      o,
      () => o.admin.setOfflineLimits({ merchantId: 'M-OFF' }, {}),
      'invalid',
      /no offline limit/,
    );
    await refused(
      o,
      () => o.admin.setOfflineLimits({ terminalId: 'T-NONE' }, { floorLimitMinor: 1 }),
      'not_found',
      /no terminal T-NONE/,
    );
    await refused(
      o,
      () => o.admin.offlineLimits({ merchantId: 'M-NONE' }),
      'not_found',
      /no merchant M-NONE/,
    );
    expect(await o.admin.offlineLimits({ terminalId: 'T-OFF1' })).toEqual(before);
  });

  it('reports offline sales forwarded in a period: settled and lost per merchant and currency, each loss with its reason', async () => {
    await o.admin.addMerchant({ id: 'M-REP', name: 'Report shop', currency: 'EUR' });
    await o.admin.addMerchant({ id: 'M-REP2', name: 'Report shop 2', currency: 'USD' });
    await o.admin.addTerminal({ id: 'T-REP1', merchantId: 'M-REP' });
    await o.admin.addTerminal({ id: 'T-REP2', merchantId: 'M-REP2' });
    // The rows as ForwardOffline leaves them (their settlements are beside the point here).
    const rows: [
      number,
      string,
      string,
      'settled' | 'merchant_loss',
      string | null,
      number,
      string,
      number,
    ][] = [
      [9001, 'T-REP1', 'OFF-1', 'settled', null, 12_00, 'EUR', 1_000],
      [9002, 'T-REP1', 'OFF-2', 'merchant_loss', 'card_blocked', 7_50, 'EUR', 2_000],
      [9003, 'T-REP1', 'OFF-3', 'settled', null, 3_00, 'EUR', 3_000],
      [9004, 'T-REP2', 'OFF-4', 'merchant_loss', 'card_expired', 5_00, 'USD', 4_000],
      [9005, 'T-REP1', 'OFF-5', 'settled', null, 99_00, 'EUR', 9_000], // outside the period
    ];
    const values = rows
      .map(
        ([id, t, off, outcome, reason, amount, cur, at]) =>
          `(${id}, '${t}', '${off}', 'C-REP', ${outcome === 'settled' ? id - 9000 : 'NULL'}, '${outcome}', ${reason ? `'${reason}'` : 'NULL'}, ${amount}, '${cur}', ${at - 500}, ${at})`,
      )
      .join(', ');
    await o.exec(
      `${factory.name === 'sqlite' ? 'PRAGMA foreign_keys = OFF;' : 'SET session_replication_role = replica;'}
       INSERT INTO offline_sales (settlement_id, terminal_id, offline_id, card_id, atc, outcome, loss_reason, amount_minor,
         currency, approved_at, forwarded_at) VALUES ${values};`,
    );
    const all = await o.admin.offlineReport({ fromMs: 0, toMs: 5_000 });
    expect(all.totals).toEqual([
      {
        merchantId: 'M-REP',
        currency: 'EUR',
        settledCount: 2,
        settledMinor: 15_00,
        lossCount: 1,
        lossMinor: 7_50,
      },
      {
        merchantId: 'M-REP2',
        currency: 'USD',
        settledCount: 0,
        settledMinor: 0,
        lossCount: 1,
        lossMinor: 5_00,
      },
    ]);
    expect(all.losses.map((l) => [l.merchantId, l.terminalId, l.offlineId, l.reason, l.amountMinor])).toEqual(
      [
        ['M-REP', 'T-REP1', 'OFF-2', 'card_blocked', 7_50],
        ['M-REP2', 'T-REP2', 'OFF-4', 'card_expired', 5_00],
      ],
    );
    const one = await o.other.offlineReport({ fromMs: 0, toMs: 10_000, merchantId: 'M-REP' });
    expect(one.totals).toEqual([
      {
        merchantId: 'M-REP',
        currency: 'EUR',
        settledCount: 3,
        settledMinor: 114_00,
        lossCount: 1,
        lossMinor: 7_50,
      },
    ]);
    await expect(o.admin.offlineReport({ fromMs: 5, toMs: 5 })).rejects.toMatchObject({ code: 'invalid' });
    await expect(o.admin.offlineReport({ fromMs: 0, toMs: 5, merchantId: 'M-NONE' })).rejects.toMatchObject({
      code: 'not_found',
    });
  });
});

describe('PostgresRegistryAdmin under a role with DML only', () => {
  it('opens a database the owner migrated and writes the registry; nothing needs more than DML', async () => {
    pg ??= await startPostgresServer();
    const url = await pg.createDatabase('registry_dml');
    await (await PostgresRegistryAdmin.open(url)).close(); // the owner migrates
    const owner = connectPostgres(url, { max: 1 });
    try {
      await owner.unsafe(`CREATE ROLE registry_app LOGIN;
        GRANT USAGE ON SCHEMA public TO registry_app;
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO registry_app`);
    } finally {
      await owner.end();
    }
    const admin = await PostgresRegistryAdmin.open(url.replace('//bluetill@', '//registry_app@'));
    try {
      await admin.addMerchant({ id: 'M-APP', name: 'App Role Shop', currency: 'EUR' });
      await admin.addTerminal({ id: 'T-APP', merchantId: 'M-APP' });
      await admin.addCard(cardRecord(keys, card('card-app', pan('679999040000000017'))));
      expect(await admin.counts()).toEqual({ merchants: 1, terminals: 1, cards: 1, merchantCards: 0 });
    } finally {
      await admin.close();
    }
  }, 60_000);
});
