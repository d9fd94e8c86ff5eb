/**
 * The headless till server over real HTTP and WebSocket on 127.0.0.1:0, in front of a whole
 * simulated world (seeded backend on loopback gRPC, till with its SQLite journal, phones).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startWorld, type World } from '@bluetill/simulator';
import { SqliteCatalog } from '../../pos-terminal/src/adapters/catalog/catalog.sqlite';
import { SqliteReceiptStore } from '../../pos-terminal/src/adapters/receipt/receipt-store.sqlite';
import { FilePrinter } from '../../pos-terminal/src/adapters/receipt/receipt-printer.file';
import { receiptToEscPos } from '../../pos-terminal/src/adapters/receipt/escpos';
import { MAX_WS_MESSAGE_BYTES } from '../../pos-terminal/src/common/ipc/wire';
import { startTillServer, type TillServer } from '../../pos-terminal/src/server/till-server';
import { WsTestClient } from '../../pos-terminal/src/server/ws-test-client';
import { TEST_CASHIER, TEST_MANAGER, testCashierAuth } from '../../pos-terminal/src/host/test-cashiers';

describe('till server (HTTP + WebSocket on loopback)', () => {
  let world: World;
  let server: TillServer;
  let dir: string;
  let client: WsTestClient;
  let catalog: SqliteCatalog;
  let receipts: SqliteReceiptStore;
  let token: string;
  const manager = { managerId: TEST_MANAGER.id, secret: TEST_MANAGER.secret };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'bluetill-serve-'));
    world = await startWorld({ limits: { basketWaitMs: 3_000 } });
    catalog = new SqliteCatalog(join(dir, 'till.sqlite'));
    receipts = new SqliteReceiptStore(join(dir, 'till.sqlite'));
    const cashiers = await testCashierAuth();
    token = cashiers.token;
    server = await startTillServer({
      till: world.till,
      catalog,
      receipts,
      printer: new FilePrinter(join(dir, 'printer.escpos')),
      pdfDir: join(dir, 'pdf'),
      probeEveryMs: 300,
      auth: cashiers.auth,
    });
    client = await WsTestClient.withToken(server.url, token);
  });

  afterAll(async () => {
    client?.close();
    await server?.close();
    catalog?.close();
    receipts?.close();
    await world?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('serves the UI on 127.0.0.1 with a strict content security policy', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    const page = await fetch(server.url);
    expect(page.status).toBe(200);
    expect(page.headers.get('content-security-policy')).toContain("default-src 'self'");
    expect(await page.text()).toContain('<script type="module" src="app.js">');
    const js = await fetch(`${server.url}/app.js`);
    expect(js.headers.get('content-type')).toMatch(/javascript/);
    expect(await js.text()).toContain('CashierView');
    expect((await fetch(`${server.url}/../etc/passwd`)).status).toBe(404);
    expect((await fetch(`${server.url}/constructor`)).status).toBe(404);
    expect((await fetch(`${server.url}/`, { method: 'POST' })).status).toBe(405);
  });

  it('refuses a WebSocket from another origin, and one with no origin and no API token; a page of its own origin must sign in', async () => {
    await expect(WsTestClient.open(server.url, { origin: 'http://evil.example' })).rejects.toThrow(/403/);
    await expect(
      WsTestClient.open(server.url, { origin: 'http://evil.example', authorization: `Bearer ${token}` }),
    ).rejects.toThrow(/403/);
    await expect(WsTestClient.open(server.url)).rejects.toThrow(/401/);
    await expect(
      WsTestClient.withToken(server.url, `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`),
    ).rejects.toThrow(/401/);
    const same = await WsTestClient.open(server.url, { origin: server.url });
    expect(await same.request('till:snapshot', {})).toMatchObject({
      ok: false,
      error: { code: 'unauthenticated' },
    });
    expect(await same.request('auth:sign-in', { cashierId: TEST_CASHIER.id, secret: 'wrong' })).toMatchObject(
      { ok: false, error: { code: 'unauthenticated' } },
    );
    const view = await same.call('auth:sign-in', { cashierId: TEST_CASHIER.id, secret: TEST_CASHIER.secret });
    expect(view).toMatchObject({
      cashierId: 'cora',
      role: 'cashier',
      approvalLimitMinor: 2000,
      resumeToken: expect.stringMatching(/^[A-Za-z0-9_-]{43}$/),
    });
    expect((await same.call('till:snapshot', {})).counterName).toBe('Counter 1');
    same.close();
    // The page reconnects and resumes; after sign-out the token is worth nothing.
    const again = await WsTestClient.open(server.url, { origin: server.url });
    expect((await again.call('auth:resume', { resumeToken: view.resumeToken })).cashierId).toBe('cora');
    await again.call('auth:sign-out', {});
    expect(await again.request('till:snapshot', {})).toMatchObject({
      ok: false,
      error: { code: 'unauthenticated' },
    });
    expect(await again.request('auth:resume', { resumeToken: view.resumeToken })).toMatchObject({
      ok: false,
      error: { code: 'unauthenticated' },
    });
    again.close();
  });

  it('rings up a sale: search, scan, quantities, remove, charge; pushes the changes', async () => {
    expect((await client.call('catalog:search', { query: 'tea' })).map((p) => p.sku).sort()).toEqual([
      'tea-black',
      'tea-green',
    ]);
    const bread = await client.call('catalog:scan', { barcode: '4000000000086' });
    expect(bread).toMatchObject({ sku: 'bread', priceText: '€4.20' });
    expect(await client.call('catalog:scan', { barcode: '1234567' })).toBeNull();
    await client.call('draft:add', { sku: 'tea-green' });
    await client.call('draft:add', { sku: 'tea-green' });
    await client.call('draft:add', { sku: 'bread' });
    await client.call('draft:add', { sku: 'water' });
    let draft = await client.call('draft:set-quantity', { sku: 'water', quantity: 3 });
    expect(draft.lines.find((l) => l.sku === 'water')).toMatchObject({ quantity: 3, lineTotalText: '€3.60' });
    draft = await client.call('draft:remove', { sku: 'water' });
    expect(draft).toMatchObject({ totalMinor: 1120, totalText: '€11.20' });
    expect((await client.event('draft:changed', (d) => d.totalMinor === 1120)).lines).toHaveLength(2);
    const basket = await client.call('basket:charge', {});
    expect(basket).toMatchObject({ status: 'open', totalText: '€11.20' });
    expect(world.till.baskets.get(basket.id)?.items.map((i) => [i.sku, i.quantity])).toEqual([
      ['tea-green', 2],
      ['bread', 1],
    ]);
    expect((await client.call('till:snapshot', {})).draft.lines).toEqual([]);
    await expect(client.call('basket:charge', {})).rejects.toThrow(/bad_request: the sale is empty/);
    await client.call('basket:cancel', { basketId: basket.id });
    expect(world.till.baskets.get(basket.id)).toBeUndefined();
    // Taken back: its items are in the sale again, to change and charge again.
    expect((await client.call('till:snapshot', {})).draft.lines.map((l) => [l.sku, l.quantity])).toEqual([
      ['tea-green', 2],
      ['bread', 1],
    ]);
    await client.call('draft:clear', {});
  });

  it('answers every bad message with an error and keeps serving', async () => {
    const before = client.replies.length;
    client.sendRaw('not json');
    expect(await client.reply(null, before)).toMatchObject({
      ok: false,
      error: { code: 'bad_request', message: 'not JSON' },
    });
    let n = client.replies.length;
    client.sendRaw(Buffer.from([1, 2, 3]), true);
    expect(await client.reply(null, n)).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    n = client.replies.length;
    client.sendRaw(
      JSON.stringify({ id: 1, channel: 'till:snapshot', payload: { pad: 'x'.repeat(MAX_WS_MESSAGE_BYTES) } }),
    );
    expect(await client.reply(null, n)).toMatchObject({ ok: false, error: { code: 'too_large' } });
    n = client.replies.length;
    client.sendRaw(JSON.stringify({ id: 77, channel: 'till:snapshot', extra: 1 }));
    expect(await client.reply(77, n)).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(await client.request('till:reboot', {})).toMatchObject({
      ok: false,
      error: { code: 'unknown_channel' },
    });
    expect(await client.request('draft:add', { sku: '../../etc' })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await client.request('draft:add', { sku: 'tea-green', quantity: -1 })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await client.request('draft:add', { sku: 'tea-green', admin: true })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(await client.request('draft:add', { sku: 'no-such-thing' })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    expect(await client.request('catalog:upsert', { sku: 'x', name: 'X', priceMinor: 1.5 })).toMatchObject({
      ok: false,
      error: { code: 'bad_request' },
    });
    expect(
      await client.request('catalog:upsert', {
        sku: 'x',
        name: 'X',
        priceMinor: 100,
        barcode: '4000000000017',
      }),
    ).toMatchObject({ ok: false, error: { code: 'conflict' } });
    expect(await client.request('basket:assign', { basketId: 'B-9999', sessionId: 'nobody' })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    expect(await client.request('receipt:print', { terminalTxnId: 'T-0001-none' })).toMatchObject({
      ok: false,
      error: { code: 'not_found' },
    });
    expect((await client.call('till:snapshot', {})).counterName).toBe('Counter 1');
  });

  it('edits the catalog: a new product and a new price', async () => {
    expect(
      await client.call('catalog:upsert', {
        sku: 'scarf',
        barcode: '4000000000208',
        name: 'Wool scarf',
        priceMinor: 2500,
      }),
    ).toMatchObject({ priceText: '€25.00' });
    await client.call('catalog:upsert', {
      sku: 'tea-green',
      barcode: '4000000000017',
      name: 'Green tea',
      priceMinor: 375,
    });
    expect(catalog.bySku('tea-green')?.priceMinor).toBe(375);
    expect(await client.call('catalog:scan', { barcode: '4000000000208' })).toMatchObject({
      name: 'Wool scarf',
    });
  });

  it('shows a phone paying live, issues, prints and saves the receipt, and finds it in the history', async () => {
    await client.call('draft:add', { sku: 'book' });
    const basket = await client.call('basket:charge', {});
    const run = await world.phonePays('card-alice', '1234');
    expect(run.outcome.kind).toBe('approved');
    await client.event('session:changed', (r) => r.phase === 'approved');
    const phases = client.events
      .filter((e) => e.event === 'session:changed')
      .map((e) => (e.payload as { phase: string }).phase);
    for (const p of ['connecting', 'card_check', 'authorizing', 'awaiting_payment', 'paying', 'approved'])
      expect(phases).toContain(p);
    const issued = await client.event('receipt:issued', (r) => r.totalText === '€12.99');
    expect(issued).toMatchObject({ result: 'approved', maskedPan: '679999*********0019' });
    await server.host.idle();
    const receipt = receipts.get(issued.terminalTxnId)!.receipt;
    expect([...readFileSync(join(dir, 'printer.escpos'))]).toEqual([...receiptToEscPos(receipt)]);
    expect(
      readFileSync(join(dir, 'pdf', `receipt-${issued.terminalTxnId}.pdf`))
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');
    const reprint = await client.call('receipt:print', { terminalTxnId: issued.terminalTxnId });
    expect(reprint.sink).toBe(`file:${join(dir, 'printer.escpos')}`);
    expect(readFileSync(join(dir, 'printer.escpos')).length).toBe(2 * reprint.bytes);
    expect(
      (await client.call('receipt:history', { query: 'paperback 0019' })).map((r) => r.terminalTxnId),
    ).toEqual([issued.terminalTxnId]);
    expect(await client.call('receipt:history', { query: 'umbrella' })).toEqual([]);
    const snap = await client.call('till:snapshot', {});
    expect(snap.baskets.find((b) => b.id === basket.id)).toBeUndefined(); // paid baskets leave the list
    expect(snap.attempts[0]).toMatchObject({ basketId: basket.id, state: 'approved' });
    expect(JSON.stringify(client.events)).not.toMatch(/6799990100000000019|"pin"/);
  });

  it('a wrong PIN shows the decline in words; a tampered sum shows "nothing was charged"', async () => {
    await client.call('draft:add', { sku: 'pen' });
    const basket = await client.call('basket:charge', {});
    expect((await world.phonePays('card-chen', '0000')).outcome.kind).toBe('declined');
    expect(await client.event('session:changed', (r) => r.phase === 'declined')).toMatchObject({
      label: 'Declined: Incorrect PIN',
      declineCode: 'pin_incorrect',
    });
    expect(world.till.baskets.get(basket.id)?.state).toBe('open'); // back in the queue
    await world.phonePays('card-bob', '2580', {
      tamper: { payment: (p) => void (p.total = { minor: 1, currency: 'EUR' }) },
    });
    const m = await client.event('mismatch:found');
    expect(m).toMatchObject({ basketId: basket.id, declineCode: 'amount_mismatch' });
    expect(m.message).toMatch(/nothing was charged/);
    expect(await client.event('session:changed', (r) => r.declineCode === 'amount_mismatch')).toMatchObject({
      label: 'Declined: Amount differs from the till (nothing was charged)',
    });
  });

  it('lets the cashier hand a particular waiting basket to a phone', async () => {
    for (const b of world.till.baskets.list()) world.till.baskets.cancel(b.id);
    const before = new Set(world.till.sessionSnapshots().map((x) => x.id));
    // The shopper takes 1.5 s over the PIN: the phone's session is live and has no basket for that
    // long (a phone whose card is already authorized would take the oldest basket charged at once).
    const paying = world.phonePays('card-chen', '9876', { shopper: { pinTypingMs: 1_500 } });
    let waiting: { id: string } | undefined;
    for (let i = 0; i < 1000 && !waiting; i++) {
      waiting = world.till
        .sessionSnapshots()
        .find(
          (x) =>
            !before.has(x.id) &&
            x.basketId === null &&
            ['connected', 'secured', 'authorizing'].includes(x.state),
        );
      if (!waiting) await new Promise((r) => setTimeout(r, 10));
    }
    if (!waiting) throw new Error('no phone came to pay');
    const host = server.host;
    // Host requests run synchronously up to their first await: all of this happens in one turn,
    // so the phone's own polling for the oldest basket cannot come in between.
    const calls = [
      host.invoke('draft:add', { sku: 'apple' }),
      host.invoke('basket:charge', {}),
      host.invoke('draft:add', { sku: 'umbrella' }),
      host.invoke('basket:charge', {}),
    ];
    const [first, second] = world.till.baskets.list().filter((b) => b.state === 'open');
    calls.push(host.invoke('basket:assign', { basketId: second!.id, sessionId: waiting.id }));
    await Promise.all(calls);
    const run = await paying;
    expect(run.outcome.kind).toBe('approved');
    expect(run.prompt.shownBasket?.total.minor).toBe(1499); // the umbrella, not the older apple basket
    expect(world.till.baskets.get(first!.id)?.state).toBe('open');
    await expect(
      host.invoke('basket:assign', { basketId: first!.id, sessionId: waiting.id }),
    ).rejects.toMatchObject({ code: expect.stringMatching(/not_found|conflict/) });
  });

  it("voids one sale, refunds part of another (not voidable then), and closes the day with the backend's totals", async () => {
    const sales = (await client.call('receipt:history', {})).filter(
      (r) => r.kind === 'sale' && r.result === 'approved',
    );
    const book = sales.find((r) => r.totalText === '€12.99')!;
    const umbrella = sales.find((r) => r.totalText === '€14.99')!;
    expect(book && umbrella).toBeTruthy();
    const voided = await client.call('receipt:void', { terminalTxnId: umbrella.terminalTxnId });
    expect(voided).toMatchObject({
      kind: 'void',
      result: 'approved',
      receipt: { kind: 'void', originalTxnId: umbrella.terminalTxnId, totalText: '€14.99' },
    });
    expect(await client.event('receipt:issued', (r) => r.kind === 'void')).toMatchObject({
      originalTxnId: umbrella.terminalTxnId,
    });
    expect((await client.call('receipt:void', { terminalTxnId: umbrella.terminalTxnId })).result).toBe(
      'approved',
    ); // the same void again
    const refund = await client.call('receipt:refund', {
      terminalTxnId: book.terminalTxnId,
      amountMinor: 299,
    });
    expect(refund).toMatchObject({
      result: 'approved',
      refundableLeftText: '€10.00',
      receipt: { kind: 'refund', totalText: '€2.99' },
    });
    expect(
      await client.call('receipt:refund', { terminalTxnId: book.terminalTxnId, amountMinor: 1001 }),
    ).toMatchObject({ result: 'declined', declineCode: 'refund_exceeds_original' });
    expect(await client.call('receipt:void', { terminalTxnId: book.terminalTxnId })).toMatchObject({
      result: 'declined',
      declineCode: 'not_voidable',
    });
    expect(
      await client.request('receipt:refund', {
        terminalTxnId: refund.receipt!.terminalTxnId,
        amountMinor: 1,
      }),
    ).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    expect(
      await client.request('receipt:refund', { terminalTxnId: book.terminalTxnId, amountMinor: 0 }),
    ).toMatchObject({ ok: false, error: { code: 'bad_request' } });
    const kinds = (await world.till.listTransactions(0)).transactions.map((t) => `${t.kind}:${t.approved}`);
    expect(kinds).toEqual(expect.arrayContaining(['sale:true', 'void:true', 'refund:true', 'refund:false']));

    expect(await client.request('batch:close', {})).toMatchObject({
      ok: false,
      error: { code: 'approval_required' },
    });
    expect(
      await client.request('batch:close', {
        approval: { managerId: TEST_CASHIER.id, secret: TEST_CASHIER.secret },
      }),
    ).toMatchObject({ ok: false, error: { code: 'approval_required' } });
    expect(await client.request('batch:close', { approval: { ...manager, secret: 'not-it' } })).toMatchObject(
      { ok: false, error: { code: 'approval_required' } },
    );
    const day = await client.call('batch:close', { approval: manager });
    expect(day).toMatchObject({
      saleCount: 2,
      saleText: '€27.98',
      refundCount: 1,
      refundText: '€2.99',
      voidCount: 1,
      voidText: '€14.99',
      netText: '€10.00',
      netMinor: 1000,
    });
    const stored = world.backend.store.db
      .prepare('SELECT net_minor AS net, status FROM batches WHERE id = ?')
      .get(day.batchId);
    expect(stored).toEqual({ net: 1000, status: 'closed' });
    // Nothing sold since: a second close would make an empty batch, and is refused.
    expect(await client.request('batch:close', { approval: manager })).toMatchObject({
      ok: false,
      error: { code: 'conflict', message: expect.stringMatching(/nothing to close/) },
    });
    expect(world.backend.store.ledgerSum()).toBe(0);
  });

  it('says plainly when the payment network is unreachable, and when it is back', async () => {
    await expect
      .poll(async () => (await client.call('till:snapshot', {})).backend.health, { timeout: 10_000 })
      .toBe('reachable');
    await world.stopBackend();
    expect(await client.event('backend:changed', (b) => b.health === 'unreachable')).toMatchObject({
      message: expect.stringMatching(/not reachable/),
    });
    client.events.length = 0;
    await world.restartBackend();
    expect(await client.event('backend:changed', (b) => b.health === 'reachable')).toBeTruthy();
  });
});
