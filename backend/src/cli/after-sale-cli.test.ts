/**
 * The admin tool's `transactions export` and `batch close` on a served database, and `serve
 * --metrics-port`, run as processes against a real backend fixture's data folder.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackendFixture, type BackendFixture } from '../test-support/backend-fixture';
import { sell } from '../test-support/sale';
import { DEMO_CARDS } from '../admin/demo-seed';

const run = promisify(execFile);
const cli = resolve(import.meta.dirname, '..', '..', 'bin', 'bluetill-backend.mjs');
let f: BackendFixture;
let server: ChildProcess | undefined;
beforeAll(async () => {
  f = await startBackendFixture();
});
afterAll(async () => {
  server?.kill('SIGTERM');
  await f.close();
});

describe('bluetill-backend transactions export / batch close', () => {
  it(
    'exports sales, refunds and voids as CSV with masked card numbers, and closes the batch with totals matching the ledger',
    { timeout: 30_000 },
    async () => {
      await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'cli-1', minor: 1250 });
      await sell(f, { cardId: 'card-bob', pin: '2580', txn: 'cli-2', minor: 400 });
      await f.refund({
        terminalId: 'T-0001',
        terminalTxnId: 'cli-1',
        refundTxnId: 'cli-rf-1',
        amount: { minor: 250, currency: 'EUR' },
      });
      await f.voidSale({ terminalId: 'T-0001', terminalTxnId: 'cli-2' });
      const out = join(f.dir, 'tx.csv');
      const exported = await run(process.execPath, [
        cli,
        'transactions',
        'export',
        '--dir',
        f.dir,
        '--terminal',
        'T-0001',
        '--from',
        '2020-01-01',
        '--out',
        out,
      ]);
      expect(exported.stdout).toContain('4 transaction(s)');
      const lines = readFileSync(out, 'utf8').trim().split('\r\n');
      expect(lines[0]).toBe(
        'created_at,kind,terminal_txn_id,original_txn_id,result,decline_reason,amount_minor,currency,masked_pan,batch_id',
      );
      expect(lines.slice(1).map((l) => l.split(',').slice(1, 5).join(','))).toEqual([
        'sale,cli-1,,approved',
        'sale,cli-2,,approved',
        'refund,cli-rf-1,cli-1,approved',
        'void,cli-2,cli-2,approved',
      ]);
      expect(lines[1]).toMatch(/,679999\*+0019,/);
      for (const c of DEMO_CARDS) expect(readFileSync(out, 'utf8')).not.toContain(c.pan);

      const closed = await run(process.execPath, [
        cli,
        'batch',
        'close',
        '--dir',
        f.dir,
        '--terminal',
        'T-0001',
      ]);
      expect(closed.stdout).toMatch(/batch \d+ closed/);
      expect(closed.stdout).toMatch(/sales +2 €16\.50/);
      expect(closed.stdout).toMatch(/refunds +1 €2\.50/);
      expect(closed.stdout).toMatch(/voids +1 €4\.00/);
      expect(closed.stdout).toMatch(/net +€10\.00/);
      const row = f.backend.store.db
        .prepare("SELECT net_minor AS net FROM batches WHERE status = 'closed' ORDER BY id DESC LIMIT 1")
        .get() as { net: number };
      expect(row.net).toBe(1000);
      await expect(
        run(process.execPath, [cli, 'batch', 'close', '--dir', f.dir, '--terminal', 'T-9999']),
      ).rejects.toMatchObject({ code: 2 });
    },
  );

  it('serve --metrics-port serves /metrics over HTTP', { timeout: 30_000 }, async () => {
    server = spawn(process.execPath, [cli, 'serve', '--dir', f.dir, '--port', '0', '--metrics-port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BLUETILL_MASTER_KEY: f.masterKey.toBase64() },
    });
    const url = await new Promise<string>((res, rej) => {
      let out = '';
      server!.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const m = out.match(/metrics on (\S+)/);
        if (m) res(m[1]!);
      });
      server!.once('exit', (code) => rej(new Error(`serve exited ${code}`)));
    });
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const body = await res.text();
    expect(body).toContain('# TYPE bluetill_backend_requests_total counter');
    expect(body).toContain('# TYPE bluetill_backend_request_duration_seconds histogram');
    expect((await fetch(url.replace('/metrics', '/other'))).status).toBe(404);
  });
});
