/**
 * Attacks by a till the card company no longer vouches for: its terminal key and certificate are
 * real (stolen, or the till retired), but its TLS certificate was revoked (`bluetill-backend
 * terminal revoke`), so it gets no Challenge and no fresh statement. It replays an old statement,
 * forges one, or shows one for another UN. Against the real backend (grpc-js over mutual TLS), the
 * till core and the phone's payment flow over the in-memory radio: each must end with the phone
 * refusing the till before the card is read. Counted in the `faults_trust_till` line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import {
  generateP256,
  issueCertificate,
  privateKeyFromPem,
  signTerminalStatement,
  signWith,
  type ChallengeResponse,
  type Item,
} from '@bluetill/protocol';
import { Till, SqliteJournal, BackendError, type BackendClient } from '@bluetill/pos-terminal';
import { InMemoryRadio } from '@bluetill/simulator';
import type { PaymentCard, PaymentOutcome } from '@bluetill/phone-agent';
import { runCli } from '../support/run-cli';
import { ledgerFacts, startRig, type Rig } from './rig';
import { resolve } from 'node:path';

const BACKEND_CLI = resolve(import.meta.dirname, '..', '..', 'backend', 'bin', 'bluetill-backend.mjs');
const TEA: Item[] = [{ sku: 'tea', name: 'Green tea', quantity: 2, unitPriceMinor: 350 }];
const ALICE = { id: 'card-alice', pin: '1234' };
const counts: Record<string, { tried: number; refused: number }> = {};
const t0 = performance.now();
let rig: Rig;
/** A statement T-0002 got while it was in good standing, 2 minutes ago (its UN long expired). */
let old: ChallengeResponse;

const resultOf = (o: PaymentOutcome): string =>
  o.kind === 'declined'
    ? o.reason
    : o.kind === 'approved'
      ? 'approved'
      : o.kind === 'failed'
        ? `failed:${o.code}`
        : o.kind;

beforeAll(async () => {
  rig = await startRig({ tills: 2 });
  rig.clock.advance(-120_000);
  try {
    old = await rig.tills[1]!.client.challenge();
  } finally {
    rig.clock.advance(120_000);
  }
}, 60_000);

afterAll(async () => {
  const all = Object.values(counts);
  const line = {
    bench: 'faults_trust_till',
    value: all.reduce((n, c) => n + c.tried, 0),
    unit: 'attacks',
    approved: 0,
    refused: all.reduce((n, c) => n + c.refused, 0),
    ms: Math.round(performance.now() - t0),
    attacks: counts,
  };
  process.stdout.write(`${JSON.stringify(line)}\n`);
  await rig?.close();
});

/** A till with T-0002's real key and certificate on its own radio; its Challenge answer is `challenge` (what it replays or forges). */
async function stolenTill(challenge: () => Promise<ChallengeResponse>) {
  const refuse = () => Promise.reject(new BackendError('unavailable', 'revoked: no backend'));
  const backend: BackendClient = {
    challenge,
    authorize: refuse,
    settle: refuse,
    cancel: refuse,
    settleWithCode: refuse,
    getSettlement: refuse,
    refund: refuse,
    voidSale: refuse,
    closeBatch: refuse,
    listTransactions: refuse,
    close: () => undefined,
  };
  const id = rig.tills[1]!.identity;
  const identity = {
    terminalKey: privateKeyFromPem(id.privatePem).privateKey,
    terminalCertificate: Buffer.from(id.certificate, 'base64'),
    merchantName: id.merchantName,
  };
  const radio = new InMemoryRadio();
  const journal = new SqliteJournal(`${rig.dir}/stolen-${Object.keys(counts).length}-${Date.now()}.sqlite`, {
    key: new Uint8Array(randomBytes(32)),
  });
  const till = new Till({
    terminalId: id.terminalId,
    merchantId: id.merchantId,
    counterName: 'Counter 2',
    currency: 'EUR',
    identity,
    peripheral: radio.peripheral(),
    backend,
    journal,
    resolveEveryMs: 0,
  });
  await till.start();
  till.baskets.add(TEA);
  return { radio, close: async () => (await till.stop(), journal.close()) };
}

/** The phone pays at the stolen till: returns how it ended and how many times the card was read. */
async function phoneAt(
  challenge: () => Promise<ChallengeResponse>,
): Promise<{ result: string; reads: number; outcome: PaymentOutcome }> {
  const till = await stolenTill(challenge);
  let reads = 0;
  const alice = await rig.card(ALICE.id);
  const counting: PaymentCard = {
    read: (un, o) => (reads++, alice.read(un, o)),
    generateAc: (i) => alice.generateAc(i),
    issuerAuthenticate: (d) => alice.issuerAuthenticate!(d),
  };
  try {
    const run = await rig.phonePaysOn(till.radio, ALICE.id, ALICE.pin, { card: counting, resume: false });
    return { result: resultOf(run.outcome), reads, outcome: run.outcome };
  } finally {
    await till.close();
  }
}

async function attack(name: string, challenge: () => Promise<ChallengeResponse>): Promise<void> {
  const before = ledgerFacts(rig);
  const r = await phoneAt(challenge);
  const c = (counts[name] ??= { tried: 0, refused: 0 });
  c.tried++;
  if (r.result === 'failed:till_untrusted' && r.reads === 0) c.refused++;
  expect(r.result, JSON.stringify(r.outcome)).toBe('failed:till_untrusted');
  expect(r.outcome).toMatchObject({ charged: 'no' });
  expect(r.reads).toBe(0); // refused before the card was read: no card data left the phone
  expect(ledgerFacts(rig)).toEqual(before);
}

describe('a till the card company no longer vouches for', () => {
  it('control: with a fresh statement from the backend, the same stolen key passes the handshake (the card is read)', async () => {
    const r = await phoneAt(() => rig.tills[1]!.client.challenge());
    expect(r.reads).toBe(1);
    expect(r.result).not.toBe('failed:till_untrusted');
    expect(r.outcome).toMatchObject({ charged: 'no' }); // its "backend" refuses everything after
  });

  it('refuses a statement signed by anyone but the card company (a forged signer certificate, or the real certificate with a made-up signature)', async () => {
    const fresh = await rig.tills[1]!.client.challenge();
    const forger = generateP256();
    const selfMade = issueCertificate(
      {
        subjectId: 'receipt-key-1',
        role: 'receipt',
        merchantId: '',
        merchantName: '',
        publicKey: forger.publicRaw,
        notAfterMs: Date.now() + 86_400_000,
        issuer: 'bluetill root',
      },
      forger.privateKey,
    );
    const statement = {
      terminalId: 'T-0002',
      unpredictableNumber: fresh.unpredictableNumber,
      issuedAtMs: Date.now(),
      expiresAtMs: Date.now() + 60_000,
    };
    await attack('forged_statement', async () => ({
      ...fresh,
      terminalStatement: signTerminalStatement(
        statement,
        { sign: (d) => signWith(forger.privateKey, d) },
        selfMade,
      ),
    }));
    const realCert = Buffer.from(rig.material.receiptKey.certificate, 'base64');
    const un = new Uint8Array(randomBytes(4));
    await attack('forged_statement', async () => ({
      ...fresh,
      unpredictableNumber: un,
      terminalStatement: signTerminalStatement(
        { ...statement, unpredictableNumber: un },
        { sign: (d) => signWith(forger.privateKey, d) },
        realCert,
      ),
    }));
    await attack('forged_statement', async () => ({ ...fresh, terminalStatement: new Uint8Array() }));
  });

  it('refuses a real, fresh statement shown with another UN (one the till chose, or another challenge of its own)', async () => {
    const fresh = await rig.tills[1]!.client.challenge();
    const other = await rig.tills[1]!.client.challenge();
    await attack('statement_other_un', async () => ({
      ...fresh,
      unpredictableNumber: new Uint8Array(randomBytes(4)),
    }));
    await attack('statement_other_un', async () => ({
      ...fresh,
      unpredictableNumber: other.unpredictableNumber,
    }));
    // T-0001's statement, shown by T-0002 with T-0001's UN
    const t1 = await rig.tills[0]!.client.challenge();
    await attack('statement_other_terminal', async () => t1);
  });

  it(
    'after `bluetill-backend terminal revoke`, the till gets no Challenge, and its old statement (replayed) is refused',
    { timeout: 60_000 },
    async () => {
      const cli = await runCli(BACKEND_CLI, ['terminal', 'revoke', '--dir', rig.dir, '--id', 'T-0002'], {
        env: { BLUETILL_MASTER_KEY: rig.masterKey.toBase64() },
      });
      expect(cli.code, cli.stderr).toBe(0);
      await expect(rig.tills[1]!.client.challenge()).rejects.toBeInstanceOf(BackendError);
      await attack('revoked_replays_old_statement', async () => old);
      await attack('revoked_replays_old_statement', async () => ({
        ...old,
        expiresAtMs: Date.now() + 60_000,
      }));
      expect(
        rig.query<{ n: number }>(
          "SELECT COUNT(*) AS n FROM terminal_certificates WHERE terminal_id = 'T-0002' AND revoked_at IS NULL",
        )[0]!.n,
      ).toBe(0);
    },
  );
});
