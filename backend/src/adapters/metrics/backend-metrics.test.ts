/**
 * Metrics of a real backend (mutual TLS, 127.0.0.1:0) scraped over HTTP: request counts by method
 * and status, the latency histogram, declines by normalized reason; no card number in any label.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startBackendFixture, type BackendFixture } from '../../test-support/backend-fixture';
import { sell } from '../../test-support/sale';
import { DEMO_CARDS } from '../../admin/demo-seed';
import { BackendMetrics } from './backend-metrics';
import { startMetricsServer, type MetricsServer } from './metrics-server';

let f: BackendFixture;
let metrics: BackendMetrics;
let http: MetricsServer;
beforeAll(async () => {
  metrics = new BackendMetrics();
  f = await startBackendFixture({ metrics });
  http = await startMetricsServer(metrics);
});
afterAll(async () => {
  await http.close();
  await f.close();
});

describe('Prometheus metrics', () => {
  it('counts requests, observes latencies and counts declines by reason', async () => {
    await sell(f, { cardId: 'card-alice', pin: '1234', txn: 'm-1', minor: 700 });
    await sell(f, { cardId: 'card-dana', pin: '1111', txn: 'm-2', minor: 5000 }); // insufficient_funds
    await f.refund({
      terminalId: 'T-0001',
      terminalTxnId: 'm-1',
      refundTxnId: 'm-rf-1',
      amount: { minor: 800, currency: 'EUR' },
    }); // refund_exceeds_original
    await f.authorizeCard(f.card('card-bob'), '0000'); // pin_incorrect
    await f.closeBatch({ terminalId: 'T-0001', closeRequestId: '' });
    await f.getSettlement('T-0001', 'none').catch(() => undefined); // NOT_FOUND

    const res = await fetch(http.url);
    expect(res.headers.get('content-type')).toContain('text/plain');
    const body = await res.text();
    const value = (line: string) =>
      Number(
        body
          .split('\n')
          .find((l) => l.startsWith(line))
          ?.slice(line.length)
          .trim(),
      );
    // A decline is answered OK with the response in the body, like an approval, and counted by its reason below.
    expect(value('bluetill_backend_requests_total{method="Authorization.Settle",code="OK"}')).toBe(2);
    expect(value('bluetill_backend_requests_total{method="Authorization.Refund",code="OK"}')).toBe(1);
    expect(value('bluetill_backend_requests_total{method="Authorize",code="OK"}')).toBe(3);
    expect(body).not.toContain('FAILED_PRECONDITION');
    expect(value('bluetill_backend_requests_total{method="GetSettlement",code="NOT_FOUND"}')).toBe(1);
    expect(value('bluetill_backend_requests_total{method="Authorization.CloseBatch",code="OK"}')).toBe(1);
    expect(value('bluetill_backend_request_duration_seconds_count{method="Authorization.Settle"}')).toBe(2);
    expect(value('bluetill_backend_request_duration_seconds_bucket{le="+Inf",method="Authorize"}')).toBe(3);
    expect(
      value('bluetill_backend_declines_total{method="Authorization.Settle",reason="insufficient_funds"}'),
    ).toBe(1);
    expect(
      value(
        'bluetill_backend_declines_total{method="Authorization.Refund",reason="refund_exceeds_original"}',
      ),
    ).toBe(1);
    expect(value('bluetill_backend_declines_total{method="Authorize",reason="pin_incorrect"}')).toBe(1);
    for (const c of DEMO_CARDS) expect(body).not.toContain(c.pan);
    expect(body).not.toMatch(/m-rf-1|m-1"/); // no transaction ids in labels
  });
});
