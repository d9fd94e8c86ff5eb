/**
 * The till's backend client over several nodes, against a real backend (mutual TLS) and real
 * sockets standing in for nodes that fail: a port nobody listens on (connection refused: the call
 * never left), and TCP proxies to the backend that cut the connection once the backend answers
 * (the call reached a node and committed, its answer lost). What must hold, per method
 * (backend-client.grpc.ts):
 *  - every method moves on to the next node after a refused connection; Authorize too, approved;
 *  - reads and idempotent calls move on after a lost answer; Authorize moves on once, and when the
 *    other node says the challenge was already used, the till gets "outcome unknown" (deadline),
 *    never the decline as the card's answer, and a wrong PIN is counted once; it is never sent to
 *    a third node after two may have seen it;
 *  - addresses are checked: a bad one is a clear error before any channel is made;
 *  - probe() counts the nodes that serve; round robin spreads calls over healthy nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer } from 'node:net';
import {
  sealPin,
  pinSealContext,
  verifyCertificate,
  publicKeyFromRaw,
  type AuthorizeRequest,
  type CertificateBody,
} from '@bluetill/protocol';
import { BackendError, GrpcBackendClient, composeTill, parseBackendAddresses } from '@bluetill/pos-terminal';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startBackendFixture, type BackendFixture } from '../../backend/src/test-support/backend-fixture';
import { LossyProxy } from '../faults/lossy-proxy';
import { startBackend } from '../../backend/src/main';
import { createLogger } from '../../backend/src/adapters/logger';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let f: BackendFixture;
let refusedAddress: string;
let liveAddress: string;
const proxies: LossyProxy[] = [];

beforeAll(async () => {
  f = await startBackendFixture();
  liveAddress = f.backend.address;
  // A port that was free a moment ago: nothing listens on it.
  const probe = createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  refusedAddress = `127.0.0.1:${(probe.address() as { port: number }).port}`;
  await new Promise((r) => probe.close(r));
}, 60_000);
afterAll(async () => {
  for (const p of proxies) await p.close();
  await f?.close();
});

/** A node that is the live backend behind a proxy that can lose its answers. */
async function lossyNode(): Promise<{ proxy: LossyProxy; address: string }> {
  const [host, port] = liveAddress.split(':');
  const proxy = new LossyProxy(() => ({ host: host!, port: Number(port) }));
  proxies.push(proxy);
  return { proxy, address: await proxy.start() };
}

const db = () => f.backend.store.db;
const pinTries = () =>
  (db().prepare("SELECT pin_tries AS n FROM cards WHERE id = 'card-alice'").get() as { n: number }).n;
const unUsed = (un: Uint8Array) =>
  !db().open ||
  (
    db()
      .prepare('SELECT used_at AS u FROM challenges WHERE un = ? AND terminal_id = ?')
      .get(Buffer.from(un).toString('hex').toUpperCase(), 'T-0001') as { u: number | null } | undefined
  )?.u != null;

const clientOver = (
  addresses: string[],
  o: { attempts?: number; balance?: 'round_robin' | 'pick_first' } = {},
) =>
  new GrpcBackendClient({
    authorizationAddress: addresses,
    terminalId: 'T-0001',
    credentials: f.credentialsFor('T-0001'),
    deadlineMs: 3_000,
    attempts: o.attempts ?? 3,
    backoffMs: 50,
    balance: o.balance ?? 'pick_first',
    log: { warn: () => undefined, info: () => undefined },
  });

/** A fresh Authorize request for the demo card, as the till relays it (challenge from the live node). */
async function authorizeRequest(pin = '1234'): Promise<AuthorizeRequest> {
  const card = f.card('card-alice');
  const ch = await f.challenge('T-0001');
  const root = publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
  const pinKey: CertificateBody = verifyCertificate(ch.pinKeyCertificate, root, {
    role: 'pin-key',
    now: Date.now(),
  });
  return {
    terminalId: 'T-0001',
    unpredictableNumber: ch.unpredictableNumber,
    sealedPinBlock: sealPin({
      pin,
      pan: card.p.pan,
      pinKey: pinKey.publicKey,
      pinKeyId: pinKey.subjectId,
      context: pinSealContext(ch.unpredictableNumber, 'T-0001'),
    }),
    card: card.cardData(ch.unpredictableNumber),
  };
}

describe('the till balances over several backend nodes', () => {
  it('checks the addresses before making a channel', () => {
    expect(parseBackendAddresses('a:1, b:2')).toEqual(['a:1', 'b:2']);
    expect(parseBackendAddresses('[::1]:50051')).toEqual(['[::1]:50051']);
    expect(() => parseBackendAddresses('')).toThrow(/at least one HOST:PORT/);
    expect(() => parseBackendAddresses('a:1,a:1')).toThrow(/a:1 is given twice/);
    expect(() => parseBackendAddresses('a:1,b')).toThrow(/"b" is not HOST:PORT/);
    expect(() => parseBackendAddresses('a:70000')).toThrow(/not HOST:PORT/);
    expect(() => clientOver(['a:1', 'nope'])).toThrow(/"nope" is not HOST:PORT/);
  });

  it('a till given a bad address list refuses to start and writes nothing', async () => {
    const dataDir = join(f.dir, 'till-never-made');
    for (const backend of ['localhost:1,', 'localhost:1,localhost', 'localhost:1,localhost:1'])
      await expect(
        composeTill({
          terminal: f.seed.terminal,
          backend,
          dataDir,
          counterName: 'Counter 1',
          currency: 'EUR',
          tillKey: new Uint8Array(32).fill(7),
          insecure: true,
        }),
      ).rejects.toThrow(/backend: .*(is not HOST:PORT|is given twice)/);
    await expect(
      composeTill({
        terminal: f.seed.terminal,
        backend: 'localhost:1',
        settlement: 'localhost:2,nope',
        dataDir,
        counterName: 'Counter 1',
        currency: 'EUR',
        tillKey: new Uint8Array(32).fill(7),
        insecure: true,
      }),
    ).rejects.toThrow(/settlement: "nope" is not HOST:PORT/);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('after a refused connection every method moves on, Authorize too (approved)', async () => {
    const c = clientOver([refusedAddress, liveAddress]);
    try {
      expect((await c.challenge()).unpredictableNumber).toHaveLength(4);
      const res = await c.authorize(await authorizeRequest());
      expect(res.approved).toBe(true);
      await c.listTransactions(0, 0);
      expect(c.nodes()).toEqual({ up: 1, total: 2 });
      expect(c.callsPerNode()[liveAddress]).toBe(3);
    } finally {
      c.close();
    }
  });

  it('after a lost answer, reads move on; Authorize moves on once, a used challenge is "outcome unknown" and a wrong PIN counts once', async () => {
    const a = await lossyNode();
    const c = clientOver([a.address, liveAddress]);
    try {
      await c.listTransactions(0, 0); // connected through the proxy
      a.proxy.loseNextAnswer(() => true);
      await c.listTransactions(0, 0);
      expect(a.proxy.lostAnswers).toBe(1);
    } finally {
      c.close();
    }
    // A fresh till client, connected through the proxy: Authorize reaches the node, which commits
    // it (UN used, a wrong PIN counted), and its answer is lost.
    const b = await lossyNode();
    const c2 = clientOver([b.address, liveAddress]);
    try {
      await c2.listTransactions(0, 0);
      const req = await authorizeRequest('9999');
      const triesBefore = pinTries();
      b.proxy.loseNextAnswer(() => unUsed(req.unpredictableNumber));
      const err = await c2.authorize(req).catch((e: unknown) => e);
      expect(b.proxy.lostAnswers).toBe(1);
      expect(err).toBeInstanceOf(BackendError);
      expect((err as BackendError).code).toBe('deadline');
      expect((err as BackendError).message).toMatch(/outcome is unknown/);
      expect(pinTries()).toBe(triesBefore + 1);
      // The right PIN on a fresh challenge pays (and starts the tries again).
      expect((await c2.authorize(await authorizeRequest())).approved).toBe(true);
      expect(pinTries()).toBe(0);
    } finally {
      c2.close();
    }
  });

  it('Authorize is not sent a third time after two nodes may have seen it', async () => {
    const a = await lossyNode();
    const b = await lossyNode();
    const c = clientOver([a.address, b.address, liveAddress], { attempts: 3 });
    try {
      await c.probe(); // every node connected
      a.proxy.blackhole(true);
      b.proxy.blackhole(true);
      const err = await c.authorize(await authorizeRequest()).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(BackendError);
      expect([a.proxy.cut, b.proxy.cut]).toEqual([1, 1]);
      expect(c.callsPerNode()[liveAddress]).toBe(1); // the probe's only
    } finally {
      a.proxy.blackhole(false);
      b.proxy.blackhole(false);
      c.close();
    }
  });

  it('probe() counts the nodes that serve; round robin spreads calls over them', async () => {
    const c = clientOver([liveAddress, refusedAddress, liveAddress.replace('127.0.0.1', 'localhost')], {
      balance: 'round_robin',
    });
    try {
      await c.probe();
      expect(c.nodes()).toEqual({ up: 2, total: 3 });
      for (let i = 0; i < 10; i++) await c.listTransactions(0, 0);
      const per = c.callsPerNode();
      expect(per[refusedAddress]).toBe(0);
      expect(per[liveAddress]).toBeGreaterThanOrEqual(4);
      expect(per[liveAddress.replace('127.0.0.1', 'localhost')]).toBeGreaterThanOrEqual(4);
    } finally {
      c.close();
    }
    const none = clientOver([refusedAddress]);
    try {
      await expect(none.probe()).rejects.toBeInstanceOf(BackendError);
      expect(none.nodes()).toEqual({ up: 0, total: 1 });
    } finally {
      none.close();
    }
  });
});

describe('round robin or pick-first: what a node crash costs the calls in flight', () => {
  it('either way no call fails and the crash costs about the same; round robin spreads the calls over both nodes', async () => {
    const figures: Record<string, unknown> = { bench: 'till_backend_balance' };
    for (const balance of ['pick_first', 'round_robin'] as const) {
      // Two nodes over the fixture's SQLite file: the fixture's, and one more in this process.
      const other = await startBackend({
        dbPath: f.seed.dbPath,
        keysPath: f.seed.keysPath,
        masterKey: f.masterKey,
        logger: createLogger('backend', 'silent'),
        shopper: false,
      });
      const c = clientOver([other.address, liveAddress], { balance });
      const latencies: number[] = [];
      let failed = 0;
      let stop = false;
      try {
        await c.probe();
        const workers = Array.from({ length: 4 }, async () => {
          while (!stop) {
            const t0 = performance.now();
            await c.challenge().catch(() => failed++);
            latencies.push(performance.now() - t0);
          }
        });
        await sleep(1_000);
        const before = c.callsPerNode();
        const killedAt = latencies.length;
        other.kill(); // the node every pick_first call goes to
        await sleep(1_000);
        stop = true;
        await Promise.all(workers);
        const after = latencies.slice(killedAt, killedAt + 8);
        figures[balance] = {
          calls: latencies.length,
          failed,
          shareOfFirstNodeBeforeCrash: Number(
            (before[other.address]! / (before[other.address]! + before[liveAddress]!)).toFixed(2),
          ),
          maxMsAroundCrash: Math.round(Math.max(...after)),
          medianMs: Number([...latencies].sort((x, y) => x - y)[latencies.length >> 1]!.toFixed(1)),
        };
        expect(failed).toBe(0);
        if (balance === 'round_robin') {
          expect(
            (figures[balance] as { shareOfFirstNodeBeforeCrash: number }).shareOfFirstNodeBeforeCrash,
          ).toBeGreaterThan(0.3);
          expect(
            (figures[balance] as { shareOfFirstNodeBeforeCrash: number }).shareOfFirstNodeBeforeCrash,
          ).toBeLessThan(0.7);
        } else {
          expect(
            (figures[balance] as { shareOfFirstNodeBeforeCrash: number }).shareOfFirstNodeBeforeCrash,
          ).toBeGreaterThan(0.95); // all but the probe's
        }
      } finally {
        stop = true;
        c.close();
        other.kill();
      }
    }
    process.stdout.write(`${JSON.stringify(figures)}\n`);
  }, 60_000);
});
