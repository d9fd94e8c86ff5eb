/**
 * Authorize and Settle forwarded to the use-case worker as bytes (forwarded-methods.ts), against a real
 * server with its worker: the same answers and refusals as the object path, in the same order (who,
 * then what), and the gRPC thread's registry connection is not read for them.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeGenericClientConstructor, status, type ServiceError } from '@grpc/grpc-js';
import {
  AuthorizationService,
  SettlementService,
  AuthorizeRequest,
  SettleRequest,
  SettleResponse,
} from '@bluetill/protocol';
import {
  fixtureStores,
  startBackendFixture,
  stopStoreServers,
  type ReadCounter,
  type StoreFixture,
} from '../../test-support/backend-fixture';
import { BackendMetrics } from '../metrics/backend-metrics';

let f: StoreFixture;
let registryReads: ReadCounter;
let metrics: BackendMetrics;
afterAll(stopStoreServers, 30_000);

const raw = (b: Buffer) => b;
const method = (path: string) => ({
  path,
  requestStream: false,
  responseStream: false,
  requestSerialize: raw,
  requestDeserialize: raw,
  responseSerialize: raw,
  responseDeserialize: raw,
});
/** A client sending any bytes as the three methods, with terminal `t`'s certificate. */
function rawClient(t: string) {
  const C = makeGenericClientConstructor(
    {
      authorize: method(AuthorizationService.authorize.path),
      relaySettle: method(AuthorizationService.settle.path),
      settle: method(SettlementService.settle.path),
    },
    'Raw',
  );
  const c = new C(f.backend.address, f.credentialsFor(t)) as unknown as Record<
    'authorize' | 'relaySettle' | 'settle',
    (b: Buffer, cb: (e: ServiceError | null, r: Buffer) => void) => void
  > & { close(): void };
  const call = (name: 'authorize' | 'relaySettle' | 'settle', b: Uint8Array) =>
    new Promise<Buffer>((res, rej) => c[name](Buffer.from(b), (e, r) => (e ? rej(e) : res(r))));
  return { call, close: () => c.close() };
}

async function sale(terminalTxnId: string) {
  const card = f.card('card-alice');
  const { un, res } = await f.authorizeCard(card, '1234');
  const amount = { minor: 250, currency: 'EUR' };
  const req: SettleRequest = {
    terminalId: 'T-0001',
    terminalTxnId,
    merchantId: 'M-0001',
    authorizationRef: res.authorizationRef,
    card: card.cardData(un),
    amount,
    items: [{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 250 }],
    cryptogram: card.arqc(amount, un),
  };
  return { res, req };
}

describe.each(fixtureStores)('Authorize and Settle forwarded as bytes over %s', (store) => {
  beforeAll(async () => {
    metrics = new BackendMetrics();
    f = await startBackendFixture({ store, worker: true, cryptoWorkers: 0, metrics });
    registryReads = f.countReads('findTerminalCertificate');
  }, 120_000);
  afterAll(() => f.close());

  it('approves, declines with the response in the trailer, and settles exactly once, on both services', async () => {
    const before = registryReads.calls;
    const { res, req } = await sale('wire-1');
    expect(res.approved).toBe(true);
    const first = await f.settle(req);
    expect(first.approved).toBe(true);
    const retried = await f.settle(req); // a retry through Authorization.Settle: the first answer
    expect(retried.receipt?.signature).toEqual(first.receipt?.signature);
    const c = rawClient('T-0001');
    const direct = SettleResponse.decode(await c.call('settle', SettleRequest.encode(req).finish())); // and through Settlement.Settle
    c.close();
    expect(direct.receipt?.signature).toEqual(first.receipt?.signature);
    expect((await f.getSettlement('T-0001', 'wire-1')).receipt?.signature).toEqual(first.receipt?.signature);
    const wrongPin = await f.authorizeCard(f.card('card-bob'), '0000');
    expect(wrongPin.res).toMatchObject({ approved: false, declineReason: 'pin_incorrect', pinTriesLeft: 2 });
    // Only the two Challenges and GetSettlement (the object path) read the registry on the gRPC thread.
    expect(registryReads.calls - before).toBe(3);
    const text = await metrics.text();
    expect(text).toContain('bluetill_backend_declines_total{method="Authorize",reason="pin_incorrect"} 1');
    // A decline is answered OK (the response in the body), like the approval: two OK answers.
    expect(text).toContain('bluetill_backend_requests_total{method="Authorize",code="OK"} 2');
    expect(text).not.toContain('FAILED_PRECONDITION');
    expect(text).toContain('bluetill_backend_requests_total{method="Settle",code="OK"} 1');
  });

  it('answers bytes that are not the message with INVALID_ARGUMENT and keeps serving', async () => {
    const c = rawClient('T-0001');
    for (const name of ['authorize', 'relaySettle', 'settle'] as const)
      await expect(c.call(name, Uint8Array.of(0xff, 0xff, 0xff))).rejects.toMatchObject({
        code: status.INVALID_ARGUMENT,
        details: expect.stringContaining('does not decode'),
      });
    await expect(
      c.call(
        'authorize',
        AuthorizeRequest.encode({
          terminalId: 'T-0001',
          unpredictableNumber: new Uint8Array(3),
          sealedPinBlock: new Uint8Array(),
        }).finish(),
      ),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    c.close();
    expect((await sale('wire-2')).res.approved).toBe(true);
  });

  it("refuses another terminal's request, and a revoked certificate before reading what it sent", async () => {
    const { req } = await sale('wire-3');
    const t2 = rawClient('T-0002');
    await expect(t2.call('settle', SettleRequest.encode(req).finish())).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: expect.stringContaining('caller certificate'),
    });
    t2.close();
    const t3 = rawClient('T-0003');
    expect(await f.registry((admin) => admin.revokeTerminalCertificates('T-0003'))).toBe(1);
    await expect(t3.call('authorize', Uint8Array.of(0xff, 0xff))).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: expect.stringContaining('revoked'),
    });
    await expect(t3.call('settle', SettleRequest.encode(req).finish())).rejects.toMatchObject({
      code: status.PERMISSION_DENIED,
      details: expect.stringContaining('revoked'),
    });
    t3.close();
    expect((await f.settle(req)).approved).toBe(true);
  });

  it('crosses threads in a few messages per burst and settles each of the calls (over SQLite in the order they came, and their replies share messages, too)', async () => {
    // One card, 40 sales with 40 ATCs of their own: each approved, whatever order they commit in.
    const card = f.card('card-chen');
    const sales: SettleRequest[] = [];
    for (let i = 0; i < 40; i++) {
      const { un, res } = await f.authorizeCard(card, '9876');
      expect(res.approved).toBe(true);
      const amount = { minor: 100 + i, currency: 'EUR' };
      sales.push({
        terminalId: 'T-0001',
        terminalTxnId: `burst-${i}`,
        merchantId: 'M-0001',
        authorizationRef: res.authorizationRef,
        card: card.cardData(un),
        amount,
        items: [{ sku: 'gum', name: 'Gum', quantity: 1, unitPriceMinor: amount.minor }],
        cryptogram: card.arqc(amount, un),
      });
    }
    const c = rawClient('T-0001');
    const before = f.backend.forwardedCrossings()!;
    const answers = await Promise.all(
      sales.map((req) => c.call('settle', SettleRequest.encode(req).finish())),
    );
    const after = f.backend.forwardedCrossings()!;
    c.close();
    const declines = answers
      .map((b) => SettleResponse.decode(b))
      .filter((r) => !r.approved)
      .map((r) => r.declineReason);
    expect(declines).toEqual([]);
    if (f.storeKind === 'sqlite') {
      // One writer: the use-case thread works them, and commits them, in the order they came.
      const stored = await f.select<{ t: string }>(
        "SELECT terminal_txn_id AS t FROM settlements WHERE terminal_txn_id LIKE 'burst-%' ORDER BY id",
      );
      expect(stored.map((r) => r.t)).toEqual(sales.map((s) => s.terminalTxnId));
    }
    expect(after.calls - before.calls).toBe(40);
    // 40 calls sent in one turn by one client: far fewer messages than calls, each way.
    expect(after.callMessages - before.callMessages).toBeLessThanOrEqual(10);
    // Replies go back as their commits end: over SQLite many share a group commit, over
    // PostgreSQL each has its own.
    expect(after.replyMessages - before.replyMessages).toBeLessThanOrEqual(
      f.storeKind === 'sqlite' ? 10 : 40,
    );
  });
});
