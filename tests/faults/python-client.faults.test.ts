/**
 * A client nobody here wrote: Python's grpcio (Debian python3-grpcio), a generic unary call with
 * raw protobuf bytes, over mutual TLS with a terminal's certificate, settles the largest basket the
 * API allows (200 items, 16 KiB of item text, the edge's limits) and reads an approval and a
 * decline, each from the response message. grpcio refuses trailing metadata over 8 KiB
 * (RESOURCE_EXHAUSTED), so a decline carried in a trailer would not reach it. Prints the
 * `faults_python_client` line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { resolve } from 'node:path';
import type { Receipt } from '@bluetill/protocol';
import {
  GetSettlementRequest,
  SettleRequest,
  SettleResponse,
  verifyReceipt,
  publicKeyFromRaw,
  type Item,
  type Money,
} from '@bluetill/protocol';
import { startBackendFixture, type BackendFixture } from '../../backend/src/test-support/backend-fixture';
import { ITEMS_TEXT_MAX_BYTES } from '../../backend/src/adapters/grpc/validate';
import { tlsPaths } from '../../backend/src/adapters/tls-files';

const SCRIPT = resolve(import.meta.dirname, '..', 'support', 'python-unary.py');
/** Debian's interpreter, which has Debian's python3-grpcio (a pyenv or venv python3 first on PATH may not). */
const PYTHON = '/usr/bin/python3';
let f: BackendFixture;
beforeAll(async () => {
  f = await startBackendFixture();
}, 60_000);
afterAll(() => f?.close());

interface PyAnswer {
  readonly code: string;
  readonly body?: string;
  readonly details?: string;
  readonly trailers: [string, number][];
}

/** Runs the Python client (asynchronously: the backend answers from this process): one call of `method` per request, as T-0001 over mutual TLS. */
async function python(
  method: string,
  requests: readonly Uint8Array[],
): Promise<{ grpcio: string; answers: PyAnswer[] }> {
  const paths = tlsPaths(f.seed.tlsDir);
  const job = {
    target: f.backend.address,
    serverName: 'localhost',
    method,
    ca: paths.ca,
    cert: paths.terminal('T-0001').cert,
    key: paths.terminal('T-0001').key,
    requests: requests.map((r) => Buffer.from(r).toString('hex')),
  };
  const child = spawn(PYTHON, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(JSON.stringify(job));
  const code = await new Promise<number | null>((res) => child.on('close', res));
  if (code !== 0) throw new Error(`${PYTHON} ${SCRIPT} exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as { grpcio: string; answers: PyAnswer[] };
}

/** The largest basket the edge accepts: 200 items whose SKUs and names fill the 16 KiB of item text. */
function largestBasket(): Item[] {
  const items = Array.from({ length: 200 }, (_, i) => ({
    sku: `s${String(i).padStart(3, '0')}`,
    name: `${'€'.repeat(25)}ab`,
    quantity: 1,
    unitPriceMinor: 100,
  }));
  expect(items.reduce((n, it) => n + it.sku.length + Buffer.byteLength(it.name), 0)).toBeLessThanOrEqual(
    ITEMS_TEXT_MAX_BYTES,
  );
  expect(items.reduce((n, it) => n + it.sku.length + Buffer.byteLength(it.name), 0)).toBeGreaterThan(
    ITEMS_TEXT_MAX_BYTES - 200,
  );
  return items;
}

describe('Python grpcio settles the largest basket over mutual TLS', () => {
  it('reads the approval and the decline (with its signed receipt of 200 items) from the response message', async () => {
    const items = largestBasket();
    const amount: Money = { minor: 200 * 100, currency: 'EUR' };
    const requests: SettleRequest[] = [];
    for (const [cardId, pin, txn] of [
      ['card-alice', '1234', 'py-approved'],
      ['card-dana', '1111', 'py-declined'],
    ] as const) {
      const card = f.card(cardId);
      const a = await f.authorizeCard(card, pin);
      expect(a.res.approved).toBe(true);
      requests.push({
        terminalId: 'T-0001',
        terminalTxnId: txn,
        merchantId: 'M-0001',
        authorizationRef: a.res.authorizationRef,
        card: card.cardData(a.un),
        amount,
        items,
        cryptogram: card.arqc(amount, a.un),
      });
    }
    const encoded = requests.map((r) => SettleRequest.encode(r).finish());
    const run = await python('/bluetill.v1.Authorization/Settle', encoded);
    const root = publicKeyFromRaw(Buffer.from(f.seed.trust.cardCompanyRoot, 'base64'));
    const [approved, declined] = run.answers.map((x) => {
      expect(x.code, JSON.stringify({ code: x.code, details: x.details })).toBe('OK');
      // Any trailer stays far under grpcio's 8 KiB.
      for (const [, len] of x.trailers) expect(len).toBeLessThan(1024);
      return SettleResponse.decode(Buffer.from(x.body!, 'hex'));
    });
    expect(approved).toMatchObject({ approved: true, declineReason: '' });
    expect(declined).toMatchObject({ approved: false, declineReason: 'insufficient_funds' });
    const receipt: Receipt = verifyReceipt(declined!.receipt!, root, Date.now());
    expect(receipt).toMatchObject({
      result: 'declined',
      declineReason: 'insufficient_funds',
      terminalTxnId: 'py-declined',
    });
    expect(receipt.items).toHaveLength(200);
    expect(verifyReceipt(approved!.receipt!, root, Date.now()).items).toHaveLength(200);
    const bodyBytes = run.answers.map((x) => (x.body?.length ?? 0) / 2);
    process.stdout.write(
      `${JSON.stringify({ bench: 'faults_python_client', value: run.answers.length, unit: 'calls', approved: 0, grpcio: run.grpcio, codes: run.answers.map((x) => x.code), requestBytes: encoded.map((b) => b.length), responseBytes: bodyBytes })}\n`,
    );
    expect(f.backend.store.ledgerSum()).toBe(0);
  });

  it('a retried declined Settle (on the Settlement service) and GetSettlement of it: the stored decline, replayed, from the response message', async () => {
    const items = largestBasket();
    const amount: Money = { minor: 200 * 100, currency: 'EUR' };
    const dana = f.card('card-dana');
    const a = await f.authorizeCard(dana, '1111');
    const req = SettleRequest.encode({
      terminalId: 'T-0001',
      terminalTxnId: 'py-retry',
      merchantId: 'M-0001',
      authorizationRef: a.res.authorizationRef,
      card: dana.cardData(a.un),
      amount,
      items,
      cryptogram: dana.arqc(amount, a.un),
    }).finish();
    const settled = await python('/bluetill.v1.Settlement/Settle', [req, req]);
    const asked = await python('/bluetill.v1.Settlement/GetSettlement', [
      GetSettlementRequest.encode({ terminalId: 'T-0001', terminalTxnId: 'py-retry' }).finish(),
    ]);
    const answers = [...settled.answers, ...asked.answers];
    expect(answers.map((x) => x.code)).toEqual(['OK', 'OK', 'OK']);
    const [first, retry, got] = answers.map((x) => SettleResponse.decode(Buffer.from(x.body!, 'hex')));
    expect(first).toMatchObject({ approved: false, declineReason: 'insufficient_funds', replayed: false });
    expect(retry).toMatchObject({ approved: false, declineReason: 'insufficient_funds', replayed: true });
    expect(Buffer.from(got!.receipt!.receipt).equals(Buffer.from(first!.receipt!.receipt))).toBe(true);
    process.stdout.write(
      `${JSON.stringify({ bench: 'faults_python_client_replay', value: answers.length, unit: 'calls', approved: 0, codes: answers.map((x) => x.code) })}\n`,
    );
  });
});
