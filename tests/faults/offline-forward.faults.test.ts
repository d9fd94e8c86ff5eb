/**
 * Offline sales and their forwarding, on real parts: the backend as a child process
 * (`bluetill-backend serve`, killed with SIGKILL and restarted on the same SQLite file and port),
 * the till's offline desk over its journal file (SQLite) and its gRPC client with the till's
 * certificate, the cards' TCs with CDA computed from their personalization files. While the backend
 * is down the till approves offline within its limits (one sale over the floor limit and one card on
 * the till's block list declined "card company unreachable"); then forwarding is interrupted every
 * way the till can be: a till process killed with SIGKILL mid-round (offline-forward-child.ts), the
 * backend killed midway, answers lost (the request reached the card company, its answer did not),
 * the till dropped in process (its journal and client closed mid-round and reopened),
 * and the whole journal forwarded a second time from a copy taken before. What must hold: each sale
 * the till approved is judged by the card company once (settled or the merchant's loss), no card's
 * TC settles twice, the ledger sums to zero per currency.
 * Prints {"bench":"faults_offline_forward","value":<payments>,"unit":"payments","offline_double_charges":0,"offline_lost":0,…}.
 *
 * Lost answers on the wire: a second till forwards through tests/faults/lossy-proxy.ts, a TCP
 * proxy that lets the till's request reach the card company and cuts the connection once the
 * settlement is committed, so the answer never comes back (four answers, on new and on open
 * connections). The
 * till forwards the journaled bytes again, and the card company answers with its stored answer
 * (`replayed`). Prints {"bench":"faults_offline_lost_answers","value":<payments>,"unit":"payments",
 * "payments":…,"answers_lost":…,"offline_double_charges":0,"offline_lost":0,…}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  ForwardOfflineRequest,
  decodePersonalizationData,
  demoOfflineTc,
  privateKeyFromPem,
  verifyOfflineReceipt,
  rawFromPublicKey,
  type CardPersonalization,
  type SettleResponse,
} from '@bluetill/protocol';
import { loadIssuer, readTerminalTls } from '@bluetill/backend';
import {
  GrpcBackendClient,
  BackendError,
  OfflineDesk,
  SqliteOfflineJournal,
  type OfflineForwarder,
} from '@bluetill/pos-terminal';
import { LossyProxy } from './lossy-proxy';
import { startRig, type Rig } from './rig';
import { SOAK, timeout } from './support';

const cardsOnline = ['card-alice', 'card-bob', 'card-chen', 'card-dana'] as const;
const BLOCKED_ON_TILL = 'card-bob';
const LIMITS = {
  currency: 'EUR',
  floorLimitMinor: 50_00,
  perCardDailyCount: 5,
  perCardDailyAmountMinor: 100_00,
  exposureMinor: 1_000_00,
  timeZone: 'Europe/Berlin',
};

let rig: Rig;
const figures = {
  payments: 0,
  declinedOnTill: 0,
  forwardRounds: 0,
  answersLost: 0,
  tillKills: 0,
  tillKill9: 0,
  forwardedBeforeKill9: 0,
  backendKills: 0,
};

beforeAll(async () => {
  rig = await startRig({ backend: 'process', attempts: 1, deadlineMs: 2_000 });
}, 60_000);
afterAll(async () => {
  await rig?.close();
  process.stdout.write(
    `${JSON.stringify({ bench: 'faults_offline_forward', value: figures.payments, unit: 'payments', ...figures, ...books, soak: SOAK })}\n`,
  );
});

const figuresLossy = {
  payments: 0,
  answers_lost: 0,
  replayed: 0,
  rounds: 0,
  settled: 0,
  offline_double_charges: -1,
  offline_lost: -1,
  ledger_balanced: false,
};

const books = {
  offline_double_charges: -1,
  offline_lost: -1,
  settled: 0,
  merchant_losses: 0,
  ledger_balanced: false,
};

describe('offline sales forwarded through every interruption', () => {
  it(
    'each approved offline sale is judged once: no double charge, none lost, the ledger balanced',
    async () => {
      const terminalId = rig.tills[0]!.terminalId;
      const issuer = loadIssuer(rig.material.emv);
      const caKeys = new Map([[issuer.ca.index, issuer.ca.publicKey]]);
      const cards = new Map<string, CardPersonalization>(
        cardsOnline.map((id) => [
          id,
          decodePersonalizationData(
            Buffer.from(
              (JSON.parse(readFileSync(rig.cardFile(id), 'utf8')) as { personalization: string })
                .personalization,
              'base64',
            ),
          ),
        ]),
      );
      const journalPath = join(rig.dir, 'offline-journal.sqlite');
      const journalKey = new Uint8Array(randomBytes(32));
      const cardKeySecret = new Uint8Array(randomBytes(32));
      const identity = rig.tills[0]!.identity;
      const terminalKey = privateKeyFromPem(identity.privatePem);

      /** A till "process": its client, journal and desk; `lose(k)`: the answer to the k-th forward of this process is lost. */
      const openTill = (o: { lose?: (k: number) => boolean; killAfter?: number } = {}) => {
        const client = new GrpcBackendClient({
          authorizationAddress: rig.address(),
          terminalId,
          tls: readTerminalTls(rig.seed.tlsDir, terminalId),
          deadlineMs: 2_000,
          attempts: 1,
          backoffMs: 50,
        });
        const journal = new SqliteOfflineJournal(journalPath, { key: journalKey });
        let k = 0;
        const forwarder: OfflineForwarder = {
          async forwardOffline(req: ForwardOfflineRequest): Promise<SettleResponse> {
            const n = k++;
            if (o.killAfter !== undefined && n >= o.killAfter)
              throw new BackendError('unavailable', 'the till process died here');
            const res = await client.forwardOffline(req);
            if (o.lose?.(n)) {
              figures.answersLost++;
              throw new BackendError('deadline', 'answer lost on the way back');
            }
            return res;
          },
        };
        const desk: OfflineDesk = new OfflineDesk({
          terminalId,
          merchantId: identity.merchantId,
          merchantName: identity.merchantName,
          terminalKey: terminalKey.privateKey,
          journal,
          limits: LIMITS,
          blockList: { has: (key: string): boolean => key === blockedKey() },
          caKeys,
          cardKeySecret,
          forwarder,
          clock: { now: () => Date.now() },
        });
        const blockedKey = () =>
          desk.cardKey(cards.get(BLOCKED_ON_TILL)!.pan, cards.get(BLOCKED_ON_TILL)!.psn);
        return { client, journal, desk, close: () => (client.close(), journal.close()) };
      };

      // The backend is down: Challenge fails "unreachable" (no connection), and the till sells offline.
      await rig.killBackend();
      figures.backendKills++;
      let till = openTill();
      const probe = await till.client.challenge().catch((e: unknown) => e);
      expect(probe).toBeInstanceOf(BackendError);
      expect((probe as BackendError).unreachable).toBe(true);
      const atc = new Map<string, number>();
      const approved: string[] = [];
      const sales = [
        ...Array.from({ length: 12 }, (_, i) => ({
          card: cardsOnline[i % cardsOnline.length]!,
          minor: 100 + 37 * i,
        })),
        { card: 'card-alice', minor: LIMITS.floorLimitMinor + 1 },
      ];
      for (const s of sales) {
        const p = cards.get(s.card)!;
        const n = (atc.get(s.card) ?? 40) + 1;
        atc.set(s.card, n);
        const un = OfflineDesk.unpredictableNumber();
        const amount = { minor: s.minor, currency: 'EUR' };
        const evidence = demoOfflineTc(p, {
          amount,
          unpredictableNumber: un,
          atc: n,
          date: new Date().toISOString().slice(2, 10).replaceAll('-', ''),
        });
        const r = await till.desk.approve({
          request: { requested: 'tc', amount, unpredictableNumber: un },
          evidence,
          backend: (probe as BackendError).unreachable ? 'unreachable' : 'slow',
          items: [{ sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: s.minor }],
        });
        if (r.approved) {
          approved.push(r.offlineId);
          // The phone's check of the till-signed receipt.
          const seen = verifyOfflineReceipt(r.receipt, {
            terminalId,
            publicKey: rawFromPublicKey(terminalKey.publicKey),
          });
          expect(seen.total).toEqual(amount);
        } else {
          figures.declinedOnTill++;
          expect(r.decline).toBe('card_company_unreachable');
          expect(['card_blocked', 'floor_limit']).toContain(r.reason);
        }
      }
      figures.payments = approved.length;
      expect(figures.declinedOnTill).toBe(4); // bob's three sales (the till's block list) and one over the floor limit
      expect(till.desk.status().open).toBe(approved.length);

      // Forwarding with the backend still down: nothing judged, everything still open.
      const down = await till.desk.forward();
      figures.forwardRounds++;
      expect(down.forwarded).toEqual([]);
      expect(down.stoppedBy?.code).toBe('unavailable');

      await rig.startBackend();
      await till.client.waitForReady(10_000).catch(() => undefined);
      const backup = join(rig.dir, 'offline-journal.copy.sqlite');
      till.close();
      copyFileSync(journalPath, backup);

      // A till process forwarding, killed with SIGKILL once two answers are journaled.
      const child = spawn(
        process.execPath,
        [
          '--import',
          'tsx',
          join(import.meta.dirname, 'offline-forward-child.ts'),
          JSON.stringify({
            journalPath,
            journalKey: Buffer.from(journalKey).toString('base64'),
            cardKeySecret: Buffer.from(cardKeySecret).toString('base64'),
            terminalId,
            merchantId: identity.merchantId,
            merchantName: identity.merchantName,
            privatePem: identity.privatePem,
            address: rig.address(),
            tlsDir: rig.seed.tlsDir,
          }),
        ],
        { stdio: ['ignore', 'pipe', 'inherit'] },
      );
      const exited = new Promise<NodeJS.Signals | null>((r) => child.once('exit', (_c, signal) => r(signal)));
      let out = '';
      await new Promise<void>((resolve) =>
        child.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          if ((out.match(/^forwarded /gm) ?? []).length >= 2 || out.includes('done')) resolve();
        }),
      );
      child.kill('SIGKILL');
      figures.tillKill9 = (await exited) === 'SIGKILL' ? 1 : 0;
      figures.forwardedBeforeKill9 = (out.match(/^forwarded /gm) ?? []).length;
      expect(figures.forwardedBeforeKill9).toBeGreaterThanOrEqual(2);
      expect(out).not.toContain('done');
      // The first answer is lost (the sale reached the card company; the round stops, the sale stays
      // 'forwarding'); then the till is killed after three more forwards, its fourth marked
      // 'forwarding' in the journal but never sent.
      till = openTill({ lose: (k) => k === 0 });
      const lost = await till.desk.forward();
      figures.forwardRounds++;
      expect(lost.stoppedBy?.code).toBe('deadline');
      till.close();
      till = openTill({ killAfter: 4 });
      const killed = await till.desk.forward();
      figures.forwardRounds++;
      expect(killed.forwarded).toHaveLength(4);
      expect(killed.forwarded[0]!.state).toBe('settled'); // the lost answer, asked again: the stored one
      till.close();
      figures.tillKills++;
      // The till restarts on its journal; the backend is killed midway through that round.
      till = openTill();
      const round = till.desk.forward();
      figures.forwardRounds++;
      await new Promise((r) => setTimeout(r, 30));
      await rig.killBackend();
      figures.backendKills++;
      await round;
      await rig.startBackend();
      till.close();
      till = openTill();
      for (let i = 0; i < 5 && till.desk.status().open > 0; i++) {
        await till.desk.forward();
        figures.forwardRounds++;
      }
      expect(till.desk.status().open).toBe(0);
      till.close();
      // The same sales forwarded a second time, from the journal as it was before forwarding began.
      copyFileSync(backup, journalPath);
      for (const suffix of ['-wal', '-shm']) {
        try {
          copyFileSync(`${backup}${suffix}`, `${journalPath}${suffix}`);
        } catch {
          /* none */
        }
      }
      till = openTill();
      const twice = await till.desk.forward();
      figures.forwardRounds++;
      expect(twice.stoppedBy).toBeNull();
      expect(twice.forwarded).toHaveLength(approved.length);
      till.close();

      const rows = rig.query<{ offline_id: string; outcome: string; card_id: string; atc: number }>(
        'SELECT offline_id, outcome, card_id, atc FROM offline_sales WHERE terminal_id = ?',
        terminalId,
      );
      const postings = rig.query<{ id: string; n: number }>(
        `SELECT s.terminal_txn_id AS id, COUNT(p.id) AS n FROM settlements s JOIN postings p ON p.settlement_id = s.id
          WHERE s.terminal_id = ? AND s.terminal_txn_id LIKE 'OFF-%' GROUP BY s.terminal_txn_id`,
        terminalId,
      );
      const perCardAtc = new Map<string, number>();
      for (const r of rows.filter((x) => x.outcome === 'settled'))
        perCardAtc.set(`${r.card_id}/${r.atc}`, (perCardAtc.get(`${r.card_id}/${r.atc}`) ?? 0) + 1);
      books.offline_double_charges =
        postings.filter((p) => p.n > 2).length + [...perCardAtc.values()].filter((n) => n > 1).length;
      books.offline_lost = approved.filter((id) => !rows.some((r) => r.offline_id === id)).length;
      books.settled = rows.filter((r) => r.outcome === 'settled').length;
      books.merchant_losses = rows.filter((r) => r.outcome === 'merchant_loss').length;
      const sums = rig.query<{ currency: string; s: number }>(
        'SELECT currency, SUM(amount_minor) AS s FROM postings GROUP BY currency',
      );
      books.ledger_balanced = sums.every((r) => r.s === 0);
      expect(books.offline_double_charges).toBe(0);
      expect(books.offline_lost).toBe(0);
      expect(rows).toHaveLength(approved.length);
      expect(books.settled).toBe(approved.length); // every card here is in good standing at the card company
      expect(books.ledger_balanced).toBe(true);
    },
    timeout(120_000),
  );
  it(
    'answers lost on the wire (lossy proxy): the till forwards the same bytes again and hears the stored answer; no double charge, none lost',
    async () => {
      const terminalId = rig.tills[0]!.terminalId;
      const identity = rig.tills[0]!.identity;
      const terminalKey = privateKeyFromPem(identity.privatePem);
      const issuer = loadIssuer(rig.material.emv);
      const personalization = (id: string) =>
        decodePersonalizationData(
          Buffer.from(
            (JSON.parse(readFileSync(rig.cardFile(id), 'utf8')) as { personalization: string })
              .personalization,
            'base64',
          ),
        );
      // Cards with credit to spare after the first test's sales (card-dana's 20.00 would be over its limit).
      const cards = ['card-alice', 'card-bob', 'card-chen'].map((id) => ({ id, p: personalization(id) }));
      const proxy = new LossyProxy(() => ({ host: '127.0.0.1', port: Number(rig.address().split(':')[1]) }));
      const proxyAddress = await proxy.start();
      const client = new GrpcBackendClient({
        authorizationAddress: proxyAddress,
        terminalId,
        tls: readTerminalTls(rig.seed.tlsDir, terminalId),
        deadlineMs: 2_000,
        attempts: 1,
        backoffMs: 50,
      });
      const journal = new SqliteOfflineJournal(join(rig.dir, 'offline-journal-lossy.sqlite'), {
        key: new Uint8Array(randomBytes(32)),
      });
      const committed = (offlineId: string) =>
        rig.query(
          'SELECT 1 FROM settlements WHERE terminal_id = ? AND terminal_txn_id = ?',
          terminalId,
          offlineId,
        ).length > 0;
      /** Offline id → how many of its answers to lose still, and what each forward of it brought back. */
      const toLose = new Map<string, number>();
      const sent = new Map<string, { bytes: string[]; replayed: boolean[] }>();
      const lossy = {
        armed: 0,
        lostAfterCommit: 0,
        replayed: 0,
      };
      const forwarder: OfflineForwarder = {
        async forwardOffline(req: ForwardOfflineRequest): Promise<SettleResponse> {
          const seen = sent.get(req.offlineId) ?? { bytes: [], replayed: [] };
          sent.set(req.offlineId, seen);
          seen.bytes.push(Buffer.from(ForwardOfflineRequest.encode(req).finish()).toString('hex'));
          const left = toLose.get(req.offlineId) ?? 0;
          if (left > 0) {
            toLose.set(req.offlineId, left - 1);
            lossy.armed++;
            proxy.loseNextAnswer(() => {
              const done = committed(req.offlineId);
              if (done) lossy.lostAfterCommit++;
              return done;
            });
          }
          const res = await client.forwardOffline(req);
          seen.replayed.push(res.replayed);
          if (res.replayed) lossy.replayed++;
          return res;
        },
      };
      const desk = new OfflineDesk({
        terminalId,
        merchantId: identity.merchantId,
        merchantName: identity.merchantName,
        terminalKey: terminalKey.privateKey,
        journal,
        limits: LIMITS,
        blockList: { has: () => false },
        caKeys: new Map([[issuer.ca.index, issuer.ca.publicKey]]),
        cardKeySecret: new Uint8Array(randomBytes(32)),
        forwarder,
        clock: { now: () => Date.now() },
      });
      try {
        // The card company unreachable (the till's own client finds no connection): sales offline.
        await rig.killBackend();
        const probe = await client.challenge().catch((e: unknown) => e);
        expect(probe).toBeInstanceOf(BackendError);
        expect((probe as BackendError).unreachable).toBe(true);
        const approved: string[] = [];
        for (let i = 0; i < 9; i++) {
          const card = cards[i % cards.length]!;
          const un = OfflineDesk.unpredictableNumber();
          const amount = { minor: 210 + 29 * i, currency: 'EUR' };
          const r = await desk.approve({
            request: { requested: 'tc', amount, unpredictableNumber: un },
            evidence: demoOfflineTc(card.p, {
              amount,
              unpredictableNumber: un,
              atc: 300 + i, // ATCs no earlier test used: each ATC is used once per card
              date: new Date().toISOString().slice(2, 10).replaceAll('-', ''),
            }),
            backend: 'unreachable',
            items: [{ sku: 'goods', name: 'Goods', quantity: 1, unitPriceMinor: amount.minor }],
          });
          expect(r.approved, JSON.stringify(r)).toBe(true);
          if (r.approved) approved.push(r.offlineId);
        }
        figuresLossy.payments = approved.length;
        // Answers lost: of the first sale (the first call on a new connection), two in the middle
        // and the last one (each on a connection already open).
        const lost = [approved[0]!, approved[3]!, approved[5]!, approved[8]!];
        for (const id of lost) toLose.set(id, 1);
        await rig.startBackend();
        let rounds = 0;
        while (desk.status().open > 0 && rounds < 12) {
          await client.waitForReady(10_000).catch(() => undefined);
          await desk.forward();
          rounds++;
        }
        expect(desk.status().open).toBe(0);
        figuresLossy.rounds = rounds;
        figuresLossy.answers_lost = proxy.lostAnswers;
        expect(proxy.lostAnswers).toBe(4);
        expect(lossy.lostAfterCommit).toBe(4); // each cut came after the card company committed
        // Each lost answer's sale was sent again byte for byte and answered with the stored answer.
        for (const id of lost) {
          const sentOf = sent.get(id)!;
          expect(sentOf.bytes.length, id).toBe(2);
          expect(new Set(sentOf.bytes).size, id).toBe(1);
          expect(sentOf.replayed, id).toEqual([true]);
        }
        for (const id of approved.filter((x) => !lost.includes(x)))
          expect(sent.get(id)!.replayed, id).toEqual([false]);
        figuresLossy.replayed = lossy.replayed;

        const rows = rig.query<{ offline_id: string; outcome: string; card_id: string; atc: number }>(
          `SELECT offline_id, outcome, card_id, atc FROM offline_sales WHERE terminal_id = ? AND offline_id IN (${approved.map(() => '?').join(',')})`,
          terminalId,
          ...approved,
        );
        const postings = rig.query<{ id: string; n: number; s: number }>(
          `SELECT s.terminal_txn_id AS id, COUNT(p.id) AS n, SUM(ABS(p.amount_minor)) AS s FROM settlements s
            JOIN postings p ON p.settlement_id = s.id
            WHERE s.terminal_id = ? AND s.terminal_txn_id IN (${approved.map(() => '?').join(',')}) GROUP BY s.terminal_txn_id`,
          terminalId,
          ...approved,
        );
        figuresLossy.offline_double_charges =
          postings.filter((p) => p.n !== 2).length +
          (rows.length - new Set(rows.map((r) => `${r.card_id}/${r.atc}`)).size);
        figuresLossy.offline_lost = approved.filter(
          (id) => !rows.some((r) => r.offline_id === id && r.outcome === 'settled'),
        ).length;
        figuresLossy.settled = rows.filter((r) => r.outcome === 'settled').length;
        figuresLossy.ledger_balanced = rig
          .query<{ s: number }>('SELECT SUM(amount_minor) AS s FROM postings GROUP BY currency')
          .every((r) => r.s === 0);
        expect(figuresLossy.offline_double_charges).toBe(0);
        expect(figuresLossy.offline_lost, JSON.stringify(rows)).toBe(0);
        expect(postings).toHaveLength(approved.length);
        expect(figuresLossy.ledger_balanced).toBe(true);
      } finally {
        client.close();
        journal.close();
        await proxy.close();
      }
      process.stdout.write(
        `${JSON.stringify({ bench: 'faults_offline_lost_answers', value: figuresLossy.payments, unit: 'payments', ...figuresLossy, soak: SOAK })}\n`,
      );
    },
    timeout(120_000),
  );
});
