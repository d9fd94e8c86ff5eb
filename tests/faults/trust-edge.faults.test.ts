/**
 * Attacks on the backend's edge that cost the card company instead of stealing from it, against
 * the real backend (grpc-js over TLS, SQLite, the use-case worker as `serve` runs it), the real
 * till core and phone flow over the in-memory radio, and the simulated EMV cards:
 *
 * - a shopper client floods the shopper listener (random card numbers, dead one-time numbers)
 *   while a till's Challenge and Authorize are timed (printed as figures): the flood's requests are
 *   refused before any P-256 agreement or RSA check (counted: 0 for bad requests);
 * - Hellos are anonymous and each makes the till ask for a challenge: a flood of them leaves at
 *   most MAX_CHALLENGES_PER_TERMINAL rows for that till, expired ones go at the next issue, and
 *   honest payments go on;
 * - EMV keys of scheme grade (1984-bit CA and issuer, 1024-bit cards): a card issued under them
 *   pays through the simulated card and the phone; a card certified by a rogue demo-sized issuer
 *   under the same CA index is declined.
 *
 * Prints {"bench":"faults_trust_edge","value":<tried>,"unit":"attacks","approved":0,...}.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import {
  IssueCodeRequest,
  PayMerchantRequest,
  ShopperService,
  createDemoIssuer,
  pinSealContext,
  sealPin,
  verifyCertificate,
  publicKeyFromRaw,
  type CertificateBody,
  type Item,
} from '@bluetill/protocol';
import {
  SCHEME_KEY_BITS,
  DEMO_KEY_BITS,
  issueCard,
  serializeIssuer,
  writePersonalizationFile,
  type KeyMaterial,
} from '@bluetill/backend';
import { startBackendFixture, type BackendFixture } from '../../backend/src/test-support/backend-fixture';
import { TestCard } from '../../backend/src/test-support/test-card';
import { MAX_CHALLENGES_PER_TERMINAL } from '../../backend/src/app/authorization-service';
import { CHALLENGE_LIFETIME_MS } from '../../backend/src/domain/rules';
import { ledgerFacts, startRig, type Rig } from './rig';
import { SEED, SOAK } from './support';

const FLOODER = resolve(import.meta.dirname, 'shopper-flooder.mjs');
const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const counts = {
  tried: 0,
  approved: 0,
  refusedBeforeCrypto: 0,
  laneRefused: 0,
  pinAgreementsForBadRequests: 0,
  cardChecksForBadRequests: 0,
};
const figures: Record<string, number> = {};

afterAll(() => {
  process.stdout.write(
    `${JSON.stringify({ bench: 'faults_trust_edge', value: counts.tried, unit: 'attacks', ...counts, ...figures, seed: SEED, soak: SOAK })}\n`,
  );
});

const p50 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const randomPan = () => `67${Array.from({ length: 14 }, () => Math.floor(Math.random() * 10)).join('')}`;

describe('a shopper flood cannot slow the tills', () => {
  let f: BackendFixture;
  beforeAll(async () => {
    f = await startBackendFixture({ worker: true });
  }, 60_000);
  afterAll(() => f?.close());

  /** Times `n` of the till's Challenge and of a full authorization (Challenge + Authorize, approved), one after the other. */
  async function tillLatency(n: number) {
    const challenge: number[] = [];
    const authorize: number[] = [];
    const alice = f.card('card-alice');
    for (let i = 0; i < n; i++) {
      let t0 = performance.now();
      await f.challenge();
      challenge.push(performance.now() - t0);
      t0 = performance.now();
      const { res } = await f.authorizeCard(alice, '1234');
      authorize.push(performance.now() - t0);
      expect(res.approved, res.declineReason).toBe(true);
    }
    return { challenge: p50(challenge), authorize: p50(authorize) };
  }

  /**
   * A flooding shopper client in a process of its own (shopper-flooder.mjs): `lanes` calls at a
   * time of the encoded `requests` to `path` for `ms`; resolves to the answers' status codes by name.
   */
  function flood(
    path: string,
    requests: readonly Uint8Array[],
    lanes: number,
    ms: number,
  ): Promise<Map<string, number>> {
    const file = join(f.dir, `flood-${randomBytes(4).toString('hex')}.txt`);
    writeFileSync(file, requests.map((r) => Buffer.from(r).toString('base64')).join('\n'));
    const caFile = join(f.dir, 'flood-ca.pem');
    writeFileSync(caFile, f.seed.trust.backendTlsCa!);
    return new Promise((resolve, reject) => {
      const address = f.shopperAddress.replace(/^127\.0\.0\.1:/, 'localhost:');
      execFile(
        process.execPath,
        [FLOODER, file, address, caFile, path, String(lanes), String(ms)],
        { timeout: ms + 30_000 },
        (error, stdout, stderr) => {
          if (error) return reject(new Error(`flooder failed: ${stderr}`, { cause: error }));
          const codes = new Map(Object.entries(JSON.parse(stdout) as Record<string, number>));
          counts.tried += [...codes.values()].reduce((a, b) => a + b, 0);
          resolve(codes);
        },
      );
    });
  }

  const issueCodeJunk = (): IssueCodeRequest => {
    const un = new Uint8Array(randomBytes(4));
    const card = { ...f.card('card-alice').cardData(un), pan: randomPan() };
    return {
      unpredictableNumber: un,
      card,
      sealedPinBlock: new Uint8Array(randomBytes(96)),
      amountLimit: { minor: 5000, currency: 'EUR' },
    };
  };

  it(
    "IssueCode with random card numbers and dead one-time numbers: every request refused, no agreement or RSA check done, the tills' latency printed",
    { timeout: 120_000 },
    async () => {
      await tillLatency(5); // warm
      const unloaded = await tillLatency(25);
      const before = await f.backend.shopperStats();
      const junk = Array.from({ length: 500 }, () => IssueCodeRequest.encode(issueCodeJunk()).finish());
      const flooding = flood(ShopperService.issueCode.path, junk, 16, 8_000);
      await new Promise((r) => setTimeout(r, 1_000)); // the flooder is up and flooding
      const loaded = await tillLatency(25);
      const codes = await flooding;
      const after = await f.backend.shopperStats();
      const refusedCheaply = after.work.refusedBeforeCrypto - before.work.refusedBeforeCrypto;
      const laneRefused = after.lane.refused - before.lane.refused;
      counts.refusedBeforeCrypto += refusedCheaply;
      counts.laneRefused += laneRefused;
      counts.pinAgreementsForBadRequests += after.work.pinAgreements - before.work.pinAgreements;
      counts.cardChecksForBadRequests += after.work.cardChecks - before.work.cardChecks;
      Object.assign(figures, {
        challengeP50UnloadedMs: +unloaded.challenge.toFixed(2),
        challengeP50FloodedMs: +loaded.challenge.toFixed(2),
        authorizeP50UnloadedMs: +unloaded.authorize.toFixed(2),
        authorizeP50FloodedMs: +loaded.authorize.toFixed(2),
      });
      console.log(
        JSON.stringify({
          issueCodeFlood: {
            unloaded,
            loaded,
            codes: Object.fromEntries(codes),
            refusedCheaply,
            laneRefused,
            work: after.work,
          },
        }),
      );
      const total = [...codes.values()].reduce((a, b) => a + b, 0);
      expect(total).toBeGreaterThan(50);
      // Every flood request was refused: a decline for the dead number (an OK answer, approved false), or RESOURCE_EXHAUSTED.
      expect(codes.get('OK_APPROVED') ?? 0).toBe(0);
      expect((codes.get('OK_DECLINED') ?? 0) + (codes.get('RESOURCE_EXHAUSTED') ?? 0)).toBe(total);
      // Refused by the one-time number's read, the shopper lane, or the per-address limit before them: all before any crypto.
      expect(refusedCheaply + laneRefused).toBeLessThanOrEqual(total);
      expect(after.work.pinAgreements - before.work.pinAgreements).toBe(0);
      expect(after.work.cardChecks - before.work.cardChecks).toBe(0);
      // The till's latency under the flood is a figure (printed above: p50 unloaded and flooded), not
      // an assertion: on 2 shared cores it moves with whatever else runs. What the test holds is the
      // cause: the flood costs no agreement and no RSA check, and every one of its requests is refused.
    },
  );

  it(
    'PayMerchant with forged merchant cards and dead one-time numbers: refused before any agreement or RSA check; tills still approved',
    { timeout: 120_000 },
    async () => {
      const before = await f.backend.shopperStats();
      const junk = (): PayMerchantRequest => {
        const un = new Uint8Array(randomBytes(4));
        const card = { ...f.card('card-bob').cardData(un), pan: randomPan() };
        return {
          idempotencyKey: `flood-${randomBytes(6).toString('hex')}`,
          unpredictableNumber: un,
          merchantCard: { ...card, pan: randomPan() },
          card,
          sealedPinBlock: new Uint8Array(randomBytes(96)),
          amount: { minor: 700, currency: 'EUR' },
          items: TEA,
          cryptogram: {
            arqc: new Uint8Array(randomBytes(8)),
            atc: 7,
            cdolData: new Uint8Array(randomBytes(29)),
            iad: new Uint8Array(randomBytes(18)),
            cvmResults: new Uint8Array(3),
            cid: 0x80,
          },
        };
      };
      const flooding = flood(
        ShopperService.payMerchant.path,
        Array.from({ length: 300 }, () => PayMerchantRequest.encode(junk()).finish()),
        16,
        4_000,
      );
      await new Promise((r) => setTimeout(r, 1_000));
      const { res } = await f.authorizeCard(f.card('card-alice'), '1234');
      expect(res.approved).toBe(true);
      const codes = await flooding;
      const after = await f.backend.shopperStats();
      counts.refusedBeforeCrypto += after.work.refusedBeforeCrypto - before.work.refusedBeforeCrypto;
      counts.laneRefused += after.lane.refused - before.lane.refused;
      counts.pinAgreementsForBadRequests += after.work.pinAgreements - before.work.pinAgreements;
      counts.cardChecksForBadRequests += after.work.cardChecks - before.work.cardChecks;
      console.log(
        JSON.stringify({
          payMerchantFlood: { codes: Object.fromEntries(codes), work: after.work, lane: after.lane },
        }),
      );
      expect(codes.get('OK_APPROVED') ?? 0).toBe(0);
      expect(after.work.pinAgreements - before.work.pinAgreements).toBe(0);
      expect(after.work.cardChecks - before.work.cardChecks).toBe(0);
      expect(
        f.backend.store.db
          .prepare("SELECT COUNT(*) AS n FROM settlements WHERE terminal_txn_id LIKE 'flood-%'")
          .get(),
      ).toEqual({ n: 0 });
    },
  );
});

describe('Hellos cannot fill the database; scheme-grade keys', () => {
  let rig: Rig;
  beforeAll(async () => {
    rig = await startRig({ tills: 1, emvKeyBits: SCHEME_KEY_BITS });
  }, 120_000);
  afterAll(() => rig?.close());

  const challengeRows = () =>
    rig.query<{ n: number }>("SELECT COUNT(*) AS n FROM challenges WHERE terminal_id = 'T-0001'")[0]!.n;

  it(
    '1000 challenges a till asks for (one per anonymous Hello) leave at most MAX_CHALLENGES_PER_TERMINAL rows; the next phone still pays',
    { timeout: 120_000 },
    async () => {
      const client = rig.tills[0]!.client;
      for (let i = 0; i < 1000; i += 50)
        await Promise.all(Array.from({ length: 50 }, () => client.challenge()));
      counts.tried += 1000;
      const rows = challengeRows();
      figures.challengeRowsAfter1000Hellos = rows;
      expect(rows).toBeLessThanOrEqual(MAX_CHALLENGES_PER_TERMINAL);
      expect(rows).toBeGreaterThan(0);
      rig.ringUp(0, TEA);
      const run = await rig.phonePays(0, 'card-alice', '1234');
      expect(run.outcome.kind, JSON.stringify(run.outcome)).toBe('approved');
      expect(challengeRows()).toBeLessThanOrEqual(MAX_CHALLENGES_PER_TERMINAL);
    },
  );

  it(
    'expired challenges are gone at the next one; the ledger still sums to zero',
    { timeout: 60_000 },
    async () => {
      expect(challengeRows()).toBeGreaterThan(1);
      rig.clock.advance(CHALLENGE_LIFETIME_MS + 1_000);
      await rig.tills[0]!.client.challenge();
      counts.tried++;
      expect(challengeRows()).toBe(1);
      expect(ledgerFacts(rig).sum).toBe(0);
    },
  );

  it(
    'a card issued under 1984-bit CA and issuer keys and a 1024-bit card key is read and pays through the simulated card and the phone',
    { timeout: 60_000 },
    async () => {
      const m = rig.material;
      expect(Buffer.from(m.emv.issuerCertificate.certificate, 'base64')).toHaveLength(1984 / 8);
      rig.ringUp(0, TEA);
      const run = await rig.phonePays(0, 'card-bob', '2580');
      expect(run.outcome.kind, JSON.stringify(run.outcome)).toBe('approved');
    },
  );

  it(
    'a card certified by a rogue demo-sized issuer under the same CA index is declined, and moves no money',
    { timeout: 60_000 },
    async () => {
      const rogue: KeyMaterial = {
        ...rig.material,
        emv: serializeIssuer(createDemoIssuer({ identifier: '679999', caIndex: 0x99, bits: DEMO_KEY_BITS })),
      };
      const issued = issueCard(rogue, {
        pan: '6799990100000000019',
        expiry: '2912',
        cardholderName: 'ROGUE',
        pin: '1234',
      });
      const path = join(rig.dir, 'rogue.json');
      writePersonalizationFile(path, 'card-rogue', issued);
      const card = TestCard.fromFile(path);
      const client = rig.tills[0]!.client;
      const before = ledgerFacts(rig);
      const ch = await client.challenge();
      const pinKey: CertificateBody = verifyCertificate(
        ch.pinKeyCertificate,
        publicKeyFromRaw(Buffer.from(rig.seed.trust.cardCompanyRoot, 'base64')),
        { role: 'pin-key', now: Date.now() },
      );
      const sealed = sealPin({
        pin: '1234',
        pan: card.p.pan,
        pinKey: pinKey.publicKey,
        pinKeyId: pinKey.subjectId,
        context: pinSealContext(ch.unpredictableNumber, 'T-0001'),
      });
      const res = await client.authorize({
        terminalId: 'T-0001',
        unpredictableNumber: ch.unpredictableNumber,
        sealedPinBlock: sealed,
        card: card.cardData(ch.unpredictableNumber),
      });
      counts.tried++;
      if (res.approved) counts.approved++;
      expect(res.approved).toBe(false);
      expect(res.declineReason).toBe('card_authentication_failed');
      expect(ledgerFacts(rig).postings).toBe(before.postings);
    },
  );
});
