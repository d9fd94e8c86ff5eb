/**
 * The till's "is the payment network there" probe against a real backend (mutual TLS, metrics on):
 * it is a grpc.health.v1 Check, so the backend's request metrics show no GetSettlement that
 * found nothing (a lookup-based probe every 5 s per till would be the largest NOT_FOUND count in
 * /metrics), and a backend that is gone makes the probe fail with a BackendError.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BackendError, GrpcBackendClient } from '@bluetill/pos-terminal';
import { startBackendFixture, type BackendFixture } from '../../backend/src/test-support/backend-fixture';
import { BackendMetrics } from '../../backend/src/adapters/metrics/backend-metrics';

let f: BackendFixture;
let metrics: BackendMetrics;
beforeAll(async () => {
  metrics = new BackendMetrics();
  f = await startBackendFixture({ metrics });
}, 60_000);
afterAll(() => f?.close());

describe('the till probes the payment network with the health service', () => {
  it('20 probes: all succeed, and /metrics counts no GetSettlement and no NOT_FOUND', async () => {
    const client = new GrpcBackendClient({
      authorizationAddress: f.backend.address.replace(/^127\.0\.0\.1:/, 'localhost:'),
      terminalId: 'T-0001',
      credentials: f.credentialsFor('T-0001'),
      deadlineMs: 5_000,
    });
    try {
      for (let i = 0; i < 20; i++) await client.probe();
    } finally {
      client.close();
    }
    const text = await metrics.text();
    expect(text).not.toContain('method="GetSettlement"');
    expect(text).not.toContain('code="NOT_FOUND"');
  });

  it('fails with a BackendError when nothing answers', async () => {
    const client = new GrpcBackendClient({
      authorizationAddress: 'localhost:1',
      terminalId: 'T-0001',
      credentials: f.credentialsFor('T-0001'),
      deadlineMs: 500,
    });
    try {
      await expect(client.probe()).rejects.toBeInstanceOf(BackendError);
    } finally {
      client.close();
    }
  });
});
