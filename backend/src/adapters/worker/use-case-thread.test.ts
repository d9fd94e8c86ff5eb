/**
 * The use-case worker (startBackend({ worker: true }), `serve` by default): the same answers and the
 * same gRPC statuses as on one thread (errors cross the thread as their own classes), events reach
 * the gRPC thread's log, a close ends the thread, and what it committed is there after a restart.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { credentials, status } from '@grpc/grpc-js';
import pino from 'pino';
import {
  AuthorizationClient,
  codePinContext,
  publicKeyFromRaw,
  sealPin,
  verifyCertificate,
} from '@bluetill/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackendFixture, type BackendFixture } from '../../test-support/backend-fixture';
import { sell } from '../../test-support/sale';
import { startBackend } from '../../main';
import { readTerminalTls } from '../tls-files';

let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture({ worker: true });
});
afterAll(() => f.close());

describe('use cases on a worker thread', () => {
  it('answers sales, retries and after-sale calls as on one thread, and commits through the worker', async () => {
    const sale = await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'w-1', minor: 1250 });
    expect(sale).toMatchObject({ approved: true, replayed: false });
    expect(await f.getSettlement('T-0001', 'w-1')).toEqual({ ...sale, replayed: true });
    const refund = await f.refund({
      terminalId: 'T-0001',
      terminalTxnId: 'w-1',
      refundTxnId: 'w-rf-1',
      amount: { minor: 250, currency: 'EUR' },
    });
    expect(refund).toMatchObject({ approved: true, refundableLeft: { minor: 1000, currency: 'EUR' } });
    expect(
      (await f.listTransactions({ terminalId: 'T-0001', fromMs: 0, toMs: 0 })).transactions.map(
        (t) => t.kind,
      ),
    ).toEqual(['sale', 'refund']);
    // The gRPC thread's connection sees what the worker committed.
    expect(f.backend.store.accountBalance('acct-M-0001')).toBe(1000);
    expect(f.backend.store.ledgerSum()).toBe(0);
    const stats = await f.backend.commitStats();
    expect(stats.transactions).toBeGreaterThanOrEqual(4); // challenge, authorize, settle, refund
  });

  it("the shopper's and the temporary code's use cases run there too: their writes go through the worker's group commit", async () => {
    const before = await f.backend.commitStats();
    const card = f.card('card-bob');
    const ch = await f.shopper.challenge();
    const un = ch.unpredictableNumber;
    const pinKey = verifyCertificate(
      ch.pinKeyCertificate,
      publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64')),
      { role: 'pin-key', now: Date.now() },
    );
    const sealedPinBlock = sealPin({
      pin: '2580',
      pan: card.p.pan,
      pinKey: pinKey.publicKey,
      pinKeyId: pinKey.subjectId,
      context: codePinContext(un),
    });
    const issued = await f.shopper.issueCode({
      unpredictableNumber: un,
      card: card.cardData(un),
      sealedPinBlock,
      amountLimit: { minor: 20_00, currency: 'EUR' },
    });
    expect(issued).toMatchObject({ approved: true });
    const amount = { minor: 7_50, currency: 'EUR' };
    const sale = await f.settleWithCode({
      terminalId: 'T-0001',
      terminalTxnId: 'w-code-1',
      merchantId: 'M-0001',
      code: issued.code,
      amount,
      items: [{ sku: 'tea', name: 'Tea', quantity: 1, unitPriceMinor: 7_50 }],
    });
    expect(sale).toMatchObject({ approved: true, replayed: false });
    const after = await f.backend.commitStats();
    // shopper challenge, IssueCode, SettleWithCode: all three committed by the worker
    expect(after.transactions - before.transactions).toBeGreaterThanOrEqual(3);
    expect(f.backend.store.ledgerSum()).toBe(0);
  });

  it('keeps the statuses: ALREADY_EXISTS, PERMISSION_DENIED, INVALID_ARGUMENT, declines OK with the response in the body', async () => {
    await expect(
      f.refund({
        terminalId: 'T-0001',
        terminalTxnId: 'w-1',
        refundTxnId: 'w-rf-1',
        amount: { minor: 251, currency: 'EUR' },
      }),
    ).rejects.toMatchObject({
      code: status.ALREADY_EXISTS,
      details: expect.stringContaining('refund id already used'),
    });
    await expect(f.challenge('T-9999')).rejects.toMatchObject({ code: status.PERMISSION_DENIED });
    await expect(
      f.refund({
        terminalId: 'T-0001',
        terminalTxnId: 'w-1',
        refundTxnId: 'w-rf-2',
        amount: { minor: 0, currency: 'EUR' },
      }),
    ).rejects.toMatchObject({ code: status.INVALID_ARGUMENT });
    expect(
      await f.refund({
        terminalId: 'T-0001',
        terminalTxnId: 'nope',
        refundTxnId: 'w-rf-3',
        amount: { minor: 1, currency: 'EUR' },
      }),
    ).toMatchObject({ approved: false, declineReason: 'original_not_found' });
    const wire = f.wire.at(-1)!;
    expect(wire).toMatchObject({
      method: 'Authorization.Refund',
      code: status.OK,
      trailer: [],
      response: { approved: false, declineReason: 'original_not_found' },
    });
  });

  it('writes the worker events to the gRPC thread log, closes the thread, and keeps what it committed across a restart', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (l: string) => void lines.push(l) });
    const b = await startBackend({
      dbPath: f.seed.dbPath,
      keysPath: f.seed.keysPath,
      masterKey: f.masterKey,
      logger,
      worker: true,
    });
    const t = readTerminalTls(f.seed.tlsDir, 'T-0001');
    const client = new AuthorizationClient(b.address, credentials.createSsl(t.ca, t.key, t.cert));
    const closeBatch = () =>
      new Promise<{ batchId: number; replayed: boolean }>((res, rej) =>
        client.closeBatch({ terminalId: 'T-0001', closeRequestId: 'w-eod' }, (e, r) => (e ? rej(e) : res(r))),
      );
    const first = await closeBatch();
    const refund = await new Promise<{ approved: boolean }>((res, rej) =>
      client.refund(
        {
          terminalId: 'T-0001',
          terminalTxnId: 'w-1',
          refundTxnId: 'w-rf-4',
          amount: { minor: 100, currency: 'EUR' },
        },
        (e, r) => (e ? rej(e) : res(r)),
      ),
    );
    expect(refund.approved).toBe(true);
    client.close();
    await b.close(); // returns once the worker thread has closed its store and ended
    const events = lines.map((l) => JSON.parse(l) as { event?: string; worker?: boolean });
    expect(events.find((e) => e.worker !== undefined)?.worker).toBe(true);
    expect(events.map((e) => e.event)).toContain('refunded');
    expect(lines.join('\n')).not.toContain('6799'); // no card number in the log
    // Same data folder, the fixture's server still up: the close was committed once.
    expect(await f.closeBatch({ terminalId: 'T-0001', closeRequestId: 'w-eod' })).toMatchObject({
      batchId: first.batchId,
      replayed: true,
    });
    expect(
      (await f.listTransactions({ terminalId: 'T-0001', fromMs: 0, toMs: 0 })).transactions.filter(
        (x) => x.kind === 'refund' && x.approved,
      ),
    ).toHaveLength(2);
  });

  it('refuses a custom clock with the worker (the worker runs on the system clock)', async () => {
    await expect(
      startBackend({
        dbPath: f.seed.dbPath,
        keysPath: f.seed.keysPath,
        masterKey: f.masterKey,
        worker: true,
        clock: { now: () => 0 },
        logger: pino({ level: 'silent' }),
      }),
    ).rejects.toThrow(/custom clock/);
  });

  it(
    'serve runs the worker by default through the CLI and stops on SIGTERM',
    { timeout: 30_000 },
    async () => {
      const cli = join(import.meta.dirname, '..', '..', '..', 'bin', 'bluetill-backend.mjs');
      const server = spawn(process.execPath, [cli, 'serve', '--dir', f.dir, '--port', '0'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, BLUETILL_MASTER_KEY: f.masterKey.toBase64() },
      });
      let log = '';
      server.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      const address = await new Promise<string>((res, rej) => {
        let out = '';
        server.stdout!.on('data', (d: Buffer) => {
          out += d.toString();
          const m = out.match(/listening on (\S+)/);
          if (m) res(m[1]!);
        });
        server.once('exit', (code) => rej(new Error(`serve exited ${code}: ${log}`)));
      });
      const t = readTerminalTls(f.seed.tlsDir, 'T-0001');
      const client = new AuthorizationClient(address, credentials.createSsl(t.ca, t.key, t.cert));
      const ch = await new Promise<{ unpredictableNumber: Uint8Array }>((res, rej) =>
        client.challenge({ terminalId: 'T-0001' }, (e, r) => (e ? rej(e) : res(r))),
      );
      expect(ch.unpredictableNumber).toHaveLength(4);
      client.close();
      const exit = new Promise<number | null>((res) => server.once('exit', (code) => res(code)));
      server.kill('SIGTERM');
      expect(await exit).toBe(0);
      expect(log).toContain('"worker":true');
    },
  );
});
